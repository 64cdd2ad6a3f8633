// fx_tb: runs one exported MAC layer through fx_core (DATAFLOW 0,
// weight-stationary), fx_os_core (DATAFLOW 1, output-stationary) or, for a
// depthwise layer on the vector unit, fx_vector_core (VECTOR_UNIT 1).
//
// The datapath is fixed by parameters (set them with Verilator -G or Icarus
// -P); the layer comes from plusargs, so one build runs every layer of a
// datapath:
//   +weights= +activations= +bias= [+bias_post=] +requant=   input images
//   +output= [+accumulators=]                                 dumps written
//   +m= +k= +n= +zero_point= +out_min= +out_max=              layer values
//   [+groups=]  GEMMs of a depthwise or grouped layer, run one after
//               another (default 1); m, k and n are per group
//   [+lfsr_start= +lfsr_jump= +lfsr_group_jump=]  (hex) stochastic
//               rounding: see fx_core; the group jump is x^(32*n). For
//               fx_os_core the testbench derives its words from these.
// The activation image follows the dataflow: word (g*F + f)*M + m holds K
// terms f*ROWS.. of pixel m (weight-stationary), word (g*P + p)*K + k holds
// K term k of pixels p*ROWS.. (output-stationary, P = ceil(M / ROWS)), and
// word (t*M + m)*K + k holds K term k of pixel m for the COLS channels of
// tile t (vector unit). The other images are the same for all three.
// The memories read asynchronously, so this is a simulation model, not a
// memory system to synthesize. Prints one line:
//   fxsim-rtl: compute_cycles=C ppu_latency_cycles=P
// (summed over the groups) and exits through $finish, or $fatal when a value
// is missing or the layer does not finish within +max_cycles (default
// 50,000,000). P is the PPU pipeline latency after the last pass, not the
// PPU throughput cycles that `fxsim estimate` reports as ppu_cycles.
module fx_tb;
    parameter ROWS = 4;
    parameter COLS = 4;
    parameter A_BITS = 9;
    parameter A_SIGNED = 1;
    parameter W_BITS = 8;
    parameter W_SIGNED = 1;
    parameter ACC_BITS = 32;
    parameter ACC_SATURATE = 0;
    parameter BIAS_POST = 0;
    parameter REQUANT_MODE = 0;
    // Multiplier bits of a requant element as the image stores it (0 in
    // shift mode); the shift takes the 8 bits above.
    parameter REQUANT_MULT_BITS = 32;
    parameter ROUNDING = 0;
    parameter OUT_BITS = 8;
    parameter PIXEL_BITS = 14;
    parameter ADDRESS_BITS = 20;
    parameter DEPTH = 1 << 18;
    parameter DATAFLOW = 0;
    parameter VECTOR_UNIT = 0;

    localparam MULT_BITS = REQUANT_MULT_BITS > 0 ? REQUANT_MULT_BITS : 1;
    localparam REQUANT_BITS = REQUANT_MULT_BITS + 8;
    // Elements of an activation word: one per row, or one per vector lane.
    localparam ACT_ELEMENTS = VECTOR_UNIT != 0 ? COLS : ROWS;

    reg clk = 1'b0;
    reg rst = 1'b1;
    reg start = 1'b0;
    wire done;

    reg [COLS*W_BITS-1:0]       weights [0:DEPTH-1];
    reg [ACT_ELEMENTS*A_BITS-1:0] activations [0:DEPTH-1];
    reg [COLS*ACC_BITS-1:0]     bias [0:DEPTH-1];
    reg [COLS*ACC_BITS-1:0]     bias_post [0:DEPTH-1];
    reg [COLS*REQUANT_BITS-1:0] requant [0:DEPTH-1];
    reg [COLS*OUT_BITS-1:0]     outputs [0:DEPTH-1];
    reg [COLS*ACC_BITS-1:0]     accumulators [0:DEPTH-1];

    reg [31:0] m, k, n, folds, tiles, row_tiles, act_group_words;
    reg [31:0] lfsr_start, lfsr_jump, lfsr_back, lfsr_rows, lfsr_last_row, max_cycles;
    reg [31:0] groups, group, lfsr_group_jump, group_lfsr_start, os_lfsr_start;
    reg [63:0] total_compute, total_ppu;
    reg signed [31:0] zero_point, out_min, out_max;
    reg [1023:0] path;

    wire [ADDRESS_BITS-1:0] weight_address, act_address, tile_address;
    wire [COLS-1:0] acc_write, out_write;
    wire [COLS*ADDRESS_BITS-1:0] acc_write_address, out_write_address;
    wire [COLS*ACC_BITS-1:0] acc_write_data;
    wire [COLS*OUT_BITS-1:0] out_write_data;
    wire [63:0] compute_cycles, ppu_cycles;

    // The core sees requant elements of MULT_BITS + 8 bits.
    wire [COLS*(MULT_BITS+8)-1:0] requant_word;
    genvar c;
    generate
        for (c = 0; c < COLS; c = c + 1) begin : repack
            wire [REQUANT_BITS-1:0] element =
                requant[group * tiles + tile_address][c*REQUANT_BITS +: REQUANT_BITS];
            if (REQUANT_MULT_BITS > 0) begin : with_multiplier
                assign requant_word[c*(MULT_BITS+8) +: MULT_BITS+8] = element;
            end else begin : shift_only
                assign requant_word[c*(MULT_BITS+8) +: MULT_BITS+8] = {element[7:0], 1'b1};
            end
        end
    endgenerate

    generate
        if (VECTOR_UNIT != 0) begin : vector_unit
            fx_vector_core #(
                .ROWS(ROWS),
                .COLS(COLS),
                .A_BITS(A_BITS),
                .A_SIGNED(A_SIGNED),
                .W_BITS(W_BITS),
                .W_SIGNED(W_SIGNED),
                .ACC_BITS(ACC_BITS),
                .ACC_SATURATE(ACC_SATURATE),
                .BIAS_POST(BIAS_POST),
                .REQUANT_MODE(REQUANT_MODE),
                .MULT_BITS(MULT_BITS),
                .ROUNDING(ROUNDING),
                .OUT_BITS(OUT_BITS),
                .ADDRESS_BITS(ADDRESS_BITS)
            ) core (
                .clk(clk),
                .rst(rst),
                .start(start),
                .done(done),
                .cfg_m(m),
                .cfg_k(k),
                .cfg_n(n),
                .cfg_folds(folds),
                .cfg_tiles(tiles),
                .cfg_out_zero_point(zero_point),
                .cfg_out_min(out_min),
                .cfg_out_max(out_max),
                .cfg_lfsr_start(group_lfsr_start),
                .cfg_lfsr_jump(lfsr_jump),
                .weight_address(weight_address),
                .weight_data(weights[group * tiles * folds * ROWS + weight_address]),
                .act_address(act_address),
                .act_data(activations[group * act_group_words + act_address]),
                .tile_address(tile_address),
                .bias_data(bias[group * tiles + tile_address]),
                .bias_post_data(bias_post[group * tiles + tile_address]),
                .requant_data(requant_word),
                .acc_write(acc_write),
                .acc_write_address(acc_write_address),
                .acc_write_data(acc_write_data),
                .out_write(out_write),
                .out_write_address(out_write_address),
                .out_write_data(out_write_data),
                .compute_cycles(compute_cycles),
                .ppu_cycles(ppu_cycles)
            );
        end else if (DATAFLOW == 0) begin : weight_stationary
            fx_core #(
                .ROWS(ROWS),
                .COLS(COLS),
                .A_BITS(A_BITS),
                .A_SIGNED(A_SIGNED),
                .W_BITS(W_BITS),
                .W_SIGNED(W_SIGNED),
                .ACC_BITS(ACC_BITS),
                .ACC_SATURATE(ACC_SATURATE),
                .BIAS_POST(BIAS_POST),
                .REQUANT_MODE(REQUANT_MODE),
                .MULT_BITS(MULT_BITS),
                .ROUNDING(ROUNDING),
                .OUT_BITS(OUT_BITS),
                .PIXEL_BITS(PIXEL_BITS),
                .ADDRESS_BITS(ADDRESS_BITS)
            ) core (
                .clk(clk),
                .rst(rst),
                .start(start),
                .done(done),
                .cfg_m(m),
                .cfg_k(k),
                .cfg_n(n),
                .cfg_folds(folds),
                .cfg_tiles(tiles),
                .cfg_out_zero_point(zero_point),
                .cfg_out_min(out_min),
                .cfg_out_max(out_max),
                .cfg_lfsr_start(group_lfsr_start),
                .cfg_lfsr_jump(lfsr_jump),
                .weight_address(weight_address),
                .weight_data(weights[group * tiles * folds * ROWS + weight_address]),
                .act_address(act_address),
                .act_data(activations[group * act_group_words + act_address]),
                .tile_address(tile_address),
                .bias_data(bias[group * tiles + tile_address]),
                .bias_post_data(bias_post[group * tiles + tile_address]),
                .requant_data(requant_word),
                .acc_write(acc_write),
                .acc_write_address(acc_write_address),
                .acc_write_data(acc_write_data),
                .out_write(out_write),
                .out_write_address(out_write_address),
                .out_write_data(out_write_data),
                .compute_cycles(compute_cycles),
                .ppu_cycles(ppu_cycles)
            );
        end else begin : output_stationary
            fx_os_core #(
                .ROWS(ROWS),
                .COLS(COLS),
                .A_BITS(A_BITS),
                .A_SIGNED(A_SIGNED),
                .W_BITS(W_BITS),
                .W_SIGNED(W_SIGNED),
                .ACC_BITS(ACC_BITS),
                .ACC_SATURATE(ACC_SATURATE),
                .BIAS_POST(BIAS_POST),
                .REQUANT_MODE(REQUANT_MODE),
                .MULT_BITS(MULT_BITS),
                .ROUNDING(ROUNDING),
                .OUT_BITS(OUT_BITS),
                .ADDRESS_BITS(ADDRESS_BITS)
            ) core (
                .clk(clk),
                .rst(rst),
                .start(start),
                .done(done),
                .cfg_m(m),
                .cfg_k(k),
                .cfg_n(n),
                .cfg_folds(folds),
                .cfg_tiles(tiles),
                .cfg_out_zero_point(zero_point),
                .cfg_out_min(out_min),
                .cfg_out_max(out_max),
                .cfg_lfsr_start(os_lfsr_start),
                .cfg_lfsr_back(lfsr_back),
                .cfg_lfsr_rows(lfsr_rows),
                .weight_address(weight_address),
                .weight_data(weights[group * tiles * folds * ROWS + weight_address]),
                .act_address(act_address),
                .act_data(activations[group * act_group_words + act_address]),
                .tile_address(tile_address),
                .bias_data(bias[group * tiles + tile_address]),
                .bias_post_data(bias_post[group * tiles + tile_address]),
                .requant_data(requant_word),
                .acc_write(acc_write),
                .acc_write_address(acc_write_address),
                .acc_write_data(acc_write_data),
                .out_write(out_write),
                .out_write_address(out_write_address),
                .out_write_data(out_write_data),
                .compute_cycles(compute_cycles),
                .ppu_cycles(ppu_cycles)
            );
        end
    endgenerate

    always #5 clk = ~clk;

    // Outputs go to their place in the whole tensor: channel
    // group*n + t*COLS + lane of pixel p is word (channel / COLS)*m + p,
    // element channel % COLS. Accumulators keep the per-group layout, word
    // (group*tiles + t)*m + p.
    integer lane, address, channel, pixel;
    always @(posedge clk) begin
        for (lane = 0; lane < COLS; lane = lane + 1) begin
            if (out_write[lane]) begin
                address = out_write_address[lane*ADDRESS_BITS +: ADDRESS_BITS];
                pixel = address % m;
                channel = group * n + (address / m) * COLS + lane;
                outputs[(channel / COLS) * m + pixel][(channel % COLS)*OUT_BITS +: OUT_BITS]
                    <= out_write_data[lane*OUT_BITS +: OUT_BITS];
            end
            if (acc_write[lane])
                accumulators[group * tiles * m + acc_write_address[lane*ADDRESS_BITS +: ADDRESS_BITS]][lane*ACC_BITS +: ACC_BITS]
                    <= acc_write_data[lane*ACC_BITS +: ACC_BITS];
        end
    end

    // The LFSR jump of fx_lfsr_jump, for the start word of each group.
    function [31:0] multiply_mod;
        input [31:0] a;
        input [31:0] b;
        reg [62:0] product;
        integer i;
        begin
            product = 63'd0;
            for (i = 0; i < 32; i = i + 1)
                if (b[i]) product = product ^ ({31'd0, a} << i);
            for (i = 62; i >= 32; i = i - 1)
                if (product[i]) product = product ^ ({30'd0, 33'h1_0040_0007} << (i - 32));
            multiply_mod = product[31:0];
        end
    endfunction

    // base^exponent modulo the polynomial, by square and multiply.
    function [31:0] power_mod;
        input [31:0] base;
        input [31:0] exponent;
        reg [31:0] result, square;
        integer i;
        begin
            result = 32'h1;
            square = base;
            for (i = 0; i < 32; i = i + 1) begin
                if (exponent[i]) result = multiply_mod(result, square);
                square = multiply_mod(square, square);
            end
            power_mod = result;
        end
    endfunction

    task automatic require_value(input [8*16-1:0] name, input integer found);
        if (found == 0) $fatal(1, "fx_tb: missing plusarg +%0s=", name);
    endtask

    task automatic read_image(input [8*16-1:0] name, input integer required, output integer found);
        found = $value$plusargs({name, "=%s"}, path);
        if (found == 0 && required != 0) $fatal(1, "fx_tb: missing plusarg +%0s=", name);
    endtask

    // $readmemh of a missing file only warns, so an input image is opened
    // first and a missing one stops the run.
    task automatic require_readable(input [8*16-1:0] name);
        integer file;
        file = $fopen(path, "r");
        if (file == 0) $fatal(1, "fx_tb: cannot open +%0s=%0s", name, path);
        $fclose(file);
    endtask

    integer i, found;
    reg [63:0] waited, words, act_words, addresses;
    initial begin
        for (i = 0; i < DEPTH; i = i + 1) begin
            bias[i] = 0;
            bias_post[i] = 0;
            outputs[i] = 0;
            accumulators[i] = 0;
        end
        require_value("m", $value$plusargs("m=%d", m));
        require_value("k", $value$plusargs("k=%d", k));
        require_value("n", $value$plusargs("n=%d", n));
        require_value("zero_point", $value$plusargs("zero_point=%d", zero_point));
        require_value("out_min", $value$plusargs("out_min=%d", out_min));
        require_value("out_max", $value$plusargs("out_max=%d", out_max));
        if ($value$plusargs("lfsr_start=%h", lfsr_start) == 0) lfsr_start = 32'h1;
        if ($value$plusargs("lfsr_jump=%h", lfsr_jump) == 0) lfsr_jump = 32'h1;
        if ($value$plusargs("lfsr_group_jump=%h", lfsr_group_jump) == 0) lfsr_group_jump = 32'h1;
        if ($value$plusargs("groups=%d", groups) == 0) groups = 1;
        if ($value$plusargs("max_cycles=%d", max_cycles) == 0) max_cycles = 50000000;
        folds = (k + ROWS - 1) / ROWS;
        tiles = (n + COLS - 1) / COLS;
        row_tiles = (m + ROWS - 1) / ROWS;
        // Words of the images and dumps, in 64 bits so that no product
        // wraps: one group's activations, then the largest memory, then the
        // largest address the core forms inside a group.
        act_words = VECTOR_UNIT != 0 ? 64'd1 * tiles * m * k
                  : DATAFLOW == 0 ? 64'd1 * folds * m : 64'd1 * row_tiles * k;
        act_group_words = act_words[31:0];
        words = 64'd1 * groups * tiles * folds * ROWS;
        if (groups * act_words > words) words = groups * act_words;
        if (64'd1 * groups * tiles * m > words) words = 64'd1 * groups * tiles * m;
        if ((64'd1 * groups * n + COLS - 1) / COLS * m > words)
            words = (64'd1 * groups * n + COLS - 1) / COLS * m;
        addresses = 64'd1 * tiles * folds * ROWS;
        if (act_words > addresses) addresses = act_words;
        if (64'd1 * tiles * m > addresses) addresses = 64'd1 * tiles * m;
        if ((VECTOR_UNIT == 0 && DATAFLOW == 0 && m >= (1 << PIXEL_BITS)) || words > DEPTH
            || addresses >= (64'd1 << ADDRESS_BITS))
            $fatal(1, "fx_tb: layer m=%0d k=%0d n=%0d groups=%0d needs %0d words; DEPTH=%0d PIXEL_BITS=%0d ADDRESS_BITS=%0d",
                   m, k, n, groups, words, DEPTH, PIXEL_BITS, ADDRESS_BITS);

        read_image("weights", 1, found);
        require_readable("weights");
        $readmemh(path, weights);
        read_image("activations", 1, found);
        require_readable("activations");
        $readmemh(path, activations);
        read_image("requant", 1, found);
        require_readable("requant");
        $readmemh(path, requant);
        read_image("bias", 0, found);
        if (found != 0) begin
            require_readable("bias");
            $readmemh(path, bias);
        end
        read_image("bias_post", 0, found);
        if (found != 0) begin
            require_readable("bias_post");
            $readmemh(path, bias_post);
        end

        // Inputs change on the falling edge, away from the sampling edge.
        group = 0;
        group_lfsr_start = lfsr_start;
        lfsr_back = power_mod(lfsr_jump, 32'hFFFF_FFFE);
        lfsr_rows = power_mod(lfsr_jump, ROWS);
        lfsr_last_row = power_mod(lfsr_jump, ROWS - 1);
        os_lfsr_start = multiply_mod(group_lfsr_start, lfsr_last_row);
        total_compute = 0;
        total_ppu = 0;
        repeat (2) @(negedge clk);
        rst = 1'b0;
        for (group = 0; group < groups; group = group + 1) begin
            @(negedge clk);
            start = 1'b1;
            @(negedge clk);
            start = 1'b0;
            waited = 0;
            while (!done) begin
                @(posedge clk);
                waited = waited + 1;
                if (waited > max_cycles) $fatal(1, "fx_tb: no done after %0d cycles", waited);
            end
            @(negedge clk);
            total_compute = total_compute + compute_cycles;
            total_ppu = total_ppu + ppu_cycles;
            group_lfsr_start = multiply_mod(group_lfsr_start, lfsr_group_jump);
            os_lfsr_start = multiply_mod(group_lfsr_start, lfsr_last_row);
        end
        group = groups - 1;

        read_image("output", 1, found);
        $writememh(path, outputs, 0, ((groups * n + COLS - 1) / COLS) * m - 1);
        read_image("accumulators", 0, found);
        if (found != 0) $writememh(path, accumulators, 0, groups * tiles * m - 1);
        $display("fxsim-rtl: compute_cycles=%0d ppu_latency_cycles=%0d", total_compute, total_ppu);
        $finish;
    end
endmodule
