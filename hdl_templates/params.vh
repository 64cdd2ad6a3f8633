// fxsim export: params.vh, array and datapath parameters of {{ model }}.
// These are the base datapath; each MAC layer's own values (per-layer
// overrides applied) are the fields of layers.mem, one word per layer.
// Codes: DATAFLOW 0 weight-stationary, 1 output-stationary;
// REQUANT_MODE 0 tflite, 1 single, 2 fixed, 3 shift;
// ROUNDING 0 half-away, 1 half-up, 2 half-even, 3 truncate, 4 stochastic.
localparam integer ROWS = {{ rows }};
localparam integer COLS = {{ cols }};
localparam integer DATAFLOW = {{ dataflow }};
localparam integer ACT_BITS = {{ act_bits }};
localparam integer ACT_SIGNED = {{ act_signed }};
localparam integer WEIGHT_BITS = {{ weight_bits }};
localparam integer WEIGHT_SIGNED = {{ weight_signed }};
localparam integer ACC_BITS = {{ acc_bits }};
localparam integer ACC_SATURATE = {{ acc_saturate }};
localparam integer BIAS_POST = {{ bias_post }};
localparam integer ZERO_POINT_FOLD = {{ zero_point_fold }};
localparam integer REQUANT_MODE = {{ requant_mode }};
localparam integer MULT_BITS = {{ mult_bits }};
localparam integer ROUNDING = {{ rounding }};
localparam [31:0] LFSR_SEED = 32'd{{ lfsr_seed }};
localparam integer NUM_LAYERS = {{ num_layers }};
localparam integer LAYER_WORD_BITS = {{ layer_word_bits }};
// Fields of a layers.mem word (signed fields are two's complement).
{%- for field in fields %}
localparam integer LAYER_{{ field.name }}_LSB = {{ field.lsb }};
localparam integer LAYER_{{ field.name }}_BITS = {{ field.bits }};
{%- endfor %}
