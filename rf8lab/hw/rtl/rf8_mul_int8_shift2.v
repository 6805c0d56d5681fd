// RF8 x int8, the paper's reading: two barrel shifts of the activation and one add or subtract.
// p = w * a exactly, in units of 2^-19 (the group scale 2^X is applied after the accumulator):
// |p| <= 1.5 * 2^19 * 128 = 3 * 2^25 < 2^27, so 28 bits signed hold every product. A NaN weight
// (0x80) gives p = 0 and raises nan.
module rf8_mul_int8_shift2 (
    input  wire [7:0]         w,
    input  wire signed [7:0]  a,
    output wire signed [27:0] p,
    output wire               nan
);
    wire       sign, add, sub, zero;
    wire [4:0] shift1, shift2;
    rf8_decode dec (.code(w), .sign(sign), .shift1(shift1), .shift2(shift2), .add(add), .sub(sub),
                    .zero(zero), .nan(nan));
    wire signed [27:0] ax = {{20{a[7]}}, a};  // sign-extended activation
    wire signed [27:0] lead = ax <<< shift1; // a * 2^(E + 4)
    wire signed [27:0] resid = ax <<< shift2;
    wire signed [27:0] m = add ? lead + resid : (sub ? lead - resid : lead);
    assign p = (zero | nan) ? 28'sd0 : (sign ? -m : m);
endmodule
