// fx_lfsr_jump: multiplies a 32-bit Galois LFSR state by a jump polynomial
// modulo x^32 + x^22 + x^2 + x + 1, which advances the LFSR by the number
// of steps the jump stands for. One LFSR step multiplies by x; a rounding
// event takes 32 steps, a multiplication by x^32 = 32'h0040_0007.
// Combinational (a carry-less 32x32 product and its reduction), latency 0.
module fx_lfsr_jump (
    input  wire [31:0] state,
    input  wire [31:0] jump,
    output wire [31:0] result
);
    localparam [32:0] POLYNOMIAL = 33'h1_0040_0007;

    function [31:0] multiply_mod;
        input [31:0] a;
        input [31:0] b;
        reg [62:0] product;
        integer i;
        begin
            product = 63'd0;
            for (i = 0; i < 32; i = i + 1) begin
                if (b[i]) product = product ^ ({31'd0, a} << i);
            end
            for (i = 62; i >= 32; i = i - 1) begin
                if (product[i]) product = product ^ ({30'd0, POLYNOMIAL} << (i - 32));
            end
            multiply_mod = product[31:0];
        end
    endfunction

    assign result = multiply_mod(state, jump);
endmodule
