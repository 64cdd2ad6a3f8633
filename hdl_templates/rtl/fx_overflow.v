// fx_overflow: brings a signed IN_BITS value into a signed OUT_BITS
// register, wrapping (two's complement) or saturating at the nearest bound.
// Combinational, latency 0, no valid signal. OUT_BITS must not exceed
// IN_BITS.
module fx_overflow #(
    parameter IN_BITS = 33,
    parameter OUT_BITS = 32,
    parameter SATURATE = 0
) (
    input  wire signed [IN_BITS-1:0]  value,
    output wire signed [OUT_BITS-1:0] result
);
    localparam signed [IN_BITS-1:0] MAX_VALUE = (({ {(IN_BITS-1){1'b0}}, 1'b1 }) <<< (OUT_BITS - 1)) - 1;
    localparam signed [IN_BITS-1:0] MIN_VALUE = -MAX_VALUE - 1;

    generate
        if (SATURATE != 0 && IN_BITS > OUT_BITS) begin : saturate
            assign result = value > MAX_VALUE ? MAX_VALUE[OUT_BITS-1:0]
                          : value < MIN_VALUE ? MIN_VALUE[OUT_BITS-1:0]
                          : value[OUT_BITS-1:0];
        end else begin : wrap
            assign result = value[OUT_BITS-1:0];
        end
    endgenerate
endmodule
