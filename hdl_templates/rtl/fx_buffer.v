// fx_buffer: one bank of an on-chip buffer, a simple dual-port RAM of
// DEPTH words of WIDTH bits (one write port, one read port, one clock).
//
// Latency: a read returns `read_data` one clock edge after `read_address`
// is presented (registered output, so synthesis maps it to block RAM); a
// write is visible to reads from the next cycle. No valid or done signal.
// The core's testbench models these memories with asynchronous reads
// instead; this module is what the resource check synthesizes.
module fx_buffer #(
    parameter WIDTH = 64,
    parameter DEPTH = 512,
    parameter ADDRESS_BITS = 9
) (
    input  wire                    clk,
    input  wire                    write_enable,
    input  wire [ADDRESS_BITS-1:0] write_address,
    input  wire [WIDTH-1:0]        write_data,
    input  wire [ADDRESS_BITS-1:0] read_address,
    output reg  [WIDTH-1:0]        read_data
);
    reg [WIDTH-1:0] memory [0:DEPTH-1];

    always @(posedge clk) begin
        if (write_enable) memory[write_address] <= write_data;
        read_data <= memory[read_address];
    end
endmodule
