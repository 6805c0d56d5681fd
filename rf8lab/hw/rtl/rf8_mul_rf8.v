// RF8 x RF8: each weight is (2^(D+1) + op) << shift2 in units of 2^-19, so the product is the 5 x 5-bit
// product of the two significands (at most 17 * 17 = 289) shifted by shift2_1 + shift2_2 (0..36), in
// units of 2^-38: |p| <= 2.25 * 2^38 < 2^40, 41 bits signed. A NaN operand gives p = 0 and raises nan.
module rf8_mul_rf8 (
    input  wire [7:0]         w1,
    input  wire [7:0]         w2,
    output wire signed [40:0] p,
    output wire               nan
);
    wire       s1, add1, sub1, z1, n1, s2, add2, sub2, z2, n2;
    wire [4:0] r1, r2;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [4:0] l1, l2;  // the leading terms' shifts: folded into the significands
    /* verilator lint_on UNUSEDSIGNAL */
    rf8_decode d1 (.code(w1), .sign(s1), .shift1(l1), .shift2(r1), .add(add1), .sub(sub1), .zero(z1), .nan(n1));
    rf8_decode d2 (.code(w2), .sign(s2), .shift1(l2), .shift2(r2), .add(add2), .sub(sub2), .zero(z2), .nan(n2));
    // significand 2^(D+1) + op: 2^(D+1) + 1, 2^(D+1) - 1 or 2^(D+1) (op 0 only with D = 0: 2)
    wire [4:0] m1 = (5'd2 << w1[1:0]) + {4'd0, add1} - {4'd0, sub1};
    wire [4:0] m2 = (5'd2 << w2[1:0]) + {4'd0, add2} - {4'd0, sub2};
    wire [8:0] mm = m1 * m2;
    wire [5:0]  shift = {1'b0, r1} + {1'b0, r2};   // 0..36
    wire [40:0] mag = {32'd0, mm} << shift;
    assign nan = n1 | n2;
    assign p = (z1 | z2 | nan) ? 41'sd0 : ((s1 ^ s2) ? -$signed(mag) : $signed(mag));
endmodule
