// OCP E4M3 (FN) x int8, the usual way: the 4-bit significand (hidden bit 1 for normals, 0 for
// subnormals) times the activation, the sign, then one barrel shift by the exponent.
// w * 2^9 = M * 2^(e - 1) with M = 8 + m, e = E (normals) or M = m, e = 1 (subnormals), so in units of
// 2^-9 every product is an integer: |p| <= 15 * 128 * 2^14 < 2^25, 26 bits signed. NaN (S.1111.111)
// gives p = 0 and raises nan; E4M3 has no infinity.
module e4m3_mul_int8 (
    input  wire [7:0]         w,
    input  wire signed [7:0]  a,
    output wire signed [25:0] p,
    output wire               nan
);
    wire [3:0] e = w[6:3];
    wire [2:0] m = w[2:0];
    wire       normal = e != 4'd0;
    wire [3:0] sig = {normal, m};
    wire [3:0] shift = normal ? e - 4'd1 : 4'd0;   // 0..14
    assign nan = w[6:0] == 7'h7F;
    wire signed [12:0] q = a * $signed({1'b0, sig}); // 8 x 4 partial products
    wire signed [12:0] qs = w[7] ? -q : q;
    wire signed [25:0] qx = {{13{qs[12]}}, qs};
    assign p = nan ? 26'sd0 : qx <<< shift;
endmodule
