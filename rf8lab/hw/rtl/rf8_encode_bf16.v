// RF8 v1 encoder from bfloat16: code = RF8(x * 2^-X), round to nearest (ties to even rank),
// saturating overflow; bit-exact with rf8lab.encode(..., rounding="nearest", overflow="sat-finite").
// Rule: write |x| 2^-X = 1.f * 2^k (f: 7 bits; bfloat16 subnormals are normalized first). The RF8
// levels of the octave [2^k, 2^(k+1)) are 1, 1.0625, 1.125, 1.25, 1.5, 1.75, 1.875, and 2 is the
// next octave's 1; with E = k + 15 the canonical codes are j = 0..3: E.1.00, E.0.11, E.0.10, E.0.01
// and j = 4..7: (E+1).1.01, (E+1).1.10, (E+1).1.11, (E+1).1.00. Level j has rank 4 + 7E + j, whose
// parity is that of k + 1 + j, so a tie between j = i and i + 1 goes up iff k + i is even.
// Edges: k = 0 holds only j <= 3 and 1.5 (0x78, the largest); k >= 1, larger and infinity saturate;
// k = -16 holds only j >= 4 (0.75..1 * 2^-15), everything under 1.5 * 2^-16 goes up to 0x05; k = -17
// rounds above 1.5 to 0x05 and at or under it (the tie goes to rank 0) to zero; k <= -18 is zero.
// Zero has no sign (0x00, also for negative values that round to zero); NaN of either sign is 0x80.
module rf8_encode_bf16 (
    input  wire [15:0]       x,          // bfloat16 bit pattern
    input  wire signed [7:0] scale_exp,  // X: the code encodes x * 2^-X
    output wire [7:0]        code
);
    wire       s   = x[15];
    wire [7:0] ex  = x[14:7];
    wire [6:0] mx  = x[6:0];
    wire       sub  = (ex == 8'd0) & (mx != 7'd0);
    wire       zero = (ex == 8'd0) & (mx == 7'd0);
    wire       inf  = (ex == 8'hff) & (mx == 7'd0);
    wire       nan  = (ex == 8'hff) & (mx != 7'd0);

    // Subnormal: x = mx * 2^-133; p = position of its leading one, fs = the bits below it.
    reg [2:0] p;
    reg [6:0] fs;
    always @(*) begin
        casez (mx)
            7'b1??????: begin p = 3'd6; fs = {mx[5:0], 1'b0}; end
            7'b01?????: begin p = 3'd5; fs = {mx[4:0], 2'b0}; end
            7'b001????: begin p = 3'd4; fs = {mx[3:0], 3'b0}; end
            7'b0001???: begin p = 3'd3; fs = {mx[2:0], 4'b0}; end
            7'b00001??: begin p = 3'd2; fs = {mx[1:0], 5'b0}; end
            7'b000001?: begin p = 3'd1; fs = {mx[0],   6'b0}; end
            default:    begin p = 3'd0; fs = 7'd0;            end
        endcase
    end

    // k in [-260, 255]: 10 signed bits, so the exponent arithmetic never wraps.
    wire [6:0]        f = sub ? fs : mx;
    wire signed [9:0] e = sub ? $signed({7'd0, p}) - 10'sd133 : $signed({2'd0, ex}) - 10'sd127;
    wire signed [9:0] k = e - {{2{scale_exp[7]}}, scale_exp};

    // j = how many midpoints (in 128ths: 4, 12, 24, 48, 80, 104, 120) f passes; at a tie the
    // threshold moves up by one (round down) unless the upper level has the even rank.
    wire       k0 = k[0];
    wire [6:0] c;
    assign c[0] = f >= 7'd4   + {6'd0,  k0};
    assign c[1] = f >= 7'd12  + {6'd0, ~k0};
    assign c[2] = f >= 7'd24  + {6'd0,  k0};
    assign c[3] = f >= 7'd48  + {6'd0, ~k0};
    assign c[4] = f >= 7'd80  + {6'd0,  k0};
    assign c[5] = f >= 7'd104 + {6'd0, ~k0};
    assign c[6] = f >= 7'd120 + {6'd0,  k0};
    // The thresholds are increasing, so c is a thermometer code: j = c[0] + ... + c[6].
    wire [2:0] j = {2'd0, c[0]} + {2'd0, c[1]} + {2'd0, c[2]} + {2'd0, c[3]} + {2'd0, c[4]} + {2'd0, c[5]}
                 + {2'd0, c[6]};

    wire       hi    = j[2];                         // j >= 4: the levels that use exponent E + 1
    wire [3:0] ecode = k[3:0] + 4'd15 + {3'd0, hi};  // E (+1); mod 16, valid for k in -16..0
    wire [2:0] tdlo  = 3'd4 - j;                     // j = 0..3 -> 1.00, 0.11, 0.10, 0.01
    wire [1:0] dhi   = j[1:0] + 2'd1;                // j = 4..7 -> 01, 10, 11, 00
    wire [6:0] mag   = {ecode, hi ? {1'b1, dhi} : tdlo};

    wire sat    = inf | (k > 10'sd0) | ((k == 10'sd0) & hi);
    wire under  = (k < -10'sd17) | ((k == -10'sd17) & (f <= 7'd64));
    wire bottom = (k == -10'sd17) | ((k == -10'sd16) & ~hi);   // up to the smallest, 0.75 * 2^-15

    // zero before sat: its k (from the exponent field 0) is meaningless and can exceed 0.
    assign code = nan    ? 8'h80 :
                  zero   ? 8'h00 :
                  sat    ? {s, 7'h78} :
                  under  ? 8'h00 :
                  bottom ? {s, 7'h05} :
                           {s, mag};
endmodule
