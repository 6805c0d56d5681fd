// RF8 x int8, significand first: w * 2^19 = (2^(D+1) + op) << shift2 with op in {+1, -1, 0}, so the
// activation goes through a small shift-and-add q = (a << (D+1)) + op * a (|q| <= 17 * 128 < 2^12), takes
// the sign, and then one barrel shift by shift2 = E + 3 - D (0..18). The same product as
// rf8_mul_int8_shift2, in units of 2^-19, 28 bits signed; a NaN weight gives p = 0 and raises nan.
module rf8_mul_int8_sigfirst (
    input  wire [7:0]         w,
    input  wire signed [7:0]  a,
    output wire signed [27:0] p,
    output wire               nan
);
    wire       sign, add, sub, zero;
    wire [4:0] shift2;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [4:0] shift1;  // the leading term's shift: this design folds it into the significand
    /* verilator lint_on UNUSEDSIGNAL */
    rf8_decode dec (.code(w), .sign(sign), .shift1(shift1), .shift2(shift2), .add(add), .sub(sub),
                    .zero(zero), .nan(nan));
    wire signed [12:0] ax = {{5{a[7]}}, a};
    wire [1:0] d = w[1:0];
    wire signed [12:0] lead = ax <<< ({1'b0, d} + 3'd1);        // a * 2^(D+1): one of four fixed shifts
    wire signed [12:0] q = add ? lead + ax : (sub ? lead - ax : lead);
    wire signed [12:0] qs = sign ? -q : q;
    wire signed [27:0] qx = {{15{qs[12]}}, qs};
    assign p = (zero | nan) ? 28'sd0 : qx <<< shift2;
endmodule
