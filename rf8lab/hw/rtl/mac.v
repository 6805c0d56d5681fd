// Multiply-accumulate: a 32-bit two's-complement accumulator (wrapping, as rf8lab.hw.model.mac) fed by
// one weight x int8 multiplier, chosen by ARCH:
//   0 rf8_mul_int8_shift2, 1 rf8_mul_int8_sigfirst (units of 2^-19), 2 e4m3_mul_int8 (2^-9), 3 int8_mul_int8.
// clear loads the accumulator with 0 (before this cycle's product, if en); an enabled NaN weight sets the
// sticky nan flag and adds nothing. There is no reset: acc and nan are unknown until the first clear.
module mac #(parameter ARCH = 0) (
    input  wire               clk,
    input  wire               clear,
    input  wire               en,
    input  wire [7:0]         w,
    input  wire signed [7:0]  a,
    output reg  signed [31:0] acc,
    output reg                nan
);
    wire signed [31:0] p;
    wire               pnan;
    generate
        if (ARCH == 0) begin : m
            wire signed [27:0] q;
            rf8_mul_int8_shift2 u (.w(w), .a(a), .p(q), .nan(pnan));
            assign p = {{4{q[27]}}, q};
        end else if (ARCH == 1) begin : m
            wire signed [27:0] q;
            rf8_mul_int8_sigfirst u (.w(w), .a(a), .p(q), .nan(pnan));
            assign p = {{4{q[27]}}, q};
        end else if (ARCH == 2) begin : m
            wire signed [25:0] q;
            e4m3_mul_int8 u (.w(w), .a(a), .p(q), .nan(pnan));
            assign p = {{6{q[25]}}, q};
        end else if (ARCH == 3) begin : m
            wire signed [15:0] q;
            int8_mul_int8 u (.w(w), .a(a), .p(q), .nan(pnan));
            assign p = {{16{q[15]}}, q};
        end else begin : m
            mac_ARCH_must_be_0_to_3 unknown ();  // no such module: any other ARCH fails to elaborate
        end
    endgenerate
    wire signed [31:0] base = clear ? 32'sd0 : acc;
    always @(posedge clk) begin
        acc <= en ? base + p : base;
        nan <= (clear ? 1'b0 : nan) | (en & pnan);
    end
endmodule
