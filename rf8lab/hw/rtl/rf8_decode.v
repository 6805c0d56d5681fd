// RF8 v1 decoder: byte S.EEEE.T.DD -> sign, two shift amounts, the residual's operation, zero and NaN.
// In units of 2^(X-19) a weight is (-1)^S ((1 << shift1) + op (1 << shift2)), op in {+1, -1, 0}
// (docs/rf8-hardware.md; rf8lab.hw.model.fields is the same decode in Python).
module rf8_decode (
    input  wire [7:0] code,
    output wire       sign,
    output wire [4:0] shift1,   // E + 4: 4..19
    output wire [4:0] shift2,   // E + 3 - D: 0..18
    output wire       add,      // T = 0: + 2^shift2
    output wire       sub,      // T = 1, D != 0: - 2^shift2 (T = 1, D = 0: no residual)
    output wire       zero,     // 0x00
    output wire       nan       // 0x80
);
    wire [3:0] e = code[6:3];
    wire       t = code[2];
    wire [1:0] d = code[1:0];
    assign sign   = code[7];
    assign shift1 = {1'b0, e} + 5'd4;
    assign shift2 = {1'b0, e} + 5'd3 - {3'b000, d};
    assign add    = ~t;
    assign sub    = t & (d != 2'd0);
    assign zero   = code == 8'h00;
    assign nan    = code == 8'h80;
endmodule
