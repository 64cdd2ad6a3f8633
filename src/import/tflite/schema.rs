//! Typed views of the TFLite flatbuffer tables that fxsim reads, with their
//! verifiers.
//!
//! Field slots are those of TensorFlow Lite's `schema.fbs` (a field with id
//! `n` lives at vtable offset `4 + 2n`). Only the fields fxsim uses are
//! described; the verifier checks those fields and the table structure, and
//! fields it does not describe are never read. Strings are read as byte
//! vectors and decoded leniently, so a name that is not UTF-8 does not reject
//! a model. Booleans and enums are read as integers and range-checked by the
//! importer, never reinterpreted.

use flatbuffers::{
    ForwardsUOffset, InvalidFlatbuffer, Table, VOffsetT, Vector, Verifiable, Verifier,
};

/// A vector of tables.
pub type TableVector<'a, T> = Vector<'a, ForwardsUOffset<T>>;

/// Vtable offset of the field with schema id `id`.
const fn slot(id: u16) -> VOffsetT {
    4 + 2 * id
}

/// Declares a table view type: a verified `Table` with typed accessors.
macro_rules! table_view {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy)]
        pub struct $name<'a> {
            table: Table<'a>,
        }

        impl<'a> flatbuffers::Follow<'a> for $name<'a> {
            type Inner = $name<'a>;
            unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
                // SAFETY: the caller guarantees `loc` is a verified table.
                $name { table: unsafe { Table::new(buf, loc) } }
            }
        }
    };
}

/// Reads a scalar field, or `default` when absent.
fn scalar<'a, T>(table: &Table<'a>, id: u16, default: T) -> T
where
    T: flatbuffers::Follow<'a, Inner = T> + Copy + 'a,
{
    // SAFETY: every table view is reached through `root` or a verified
    // union, and each accessor's type matches the verifier's for that slot.
    unsafe { table.get::<T>(slot(id), Some(default)) }.unwrap_or(default)
}

/// Reads an offset field (vector, table), or `None` when absent.
fn offset<'a, T>(table: &Table<'a>, id: u16) -> Option<T::Inner>
where
    T: flatbuffers::Follow<'a> + 'a,
{
    // SAFETY: as for `scalar`.
    unsafe { table.get::<ForwardsUOffset<T>>(slot(id), None) }
}

/// Reads a string field as text, replacing invalid UTF-8; empty when absent.
fn string(table: &Table<'_>, id: u16) -> String {
    offset::<Vector<u8>>(table, id)
        .map(|bytes| String::from_utf8_lossy(bytes.bytes()).into_owned())
        .unwrap_or_default()
}

type Bytes<'a> = ForwardsUOffset<Vector<'a, u8>>;
type Ints<'a> = ForwardsUOffset<Vector<'a, i32>>;

table_view!(
    /// The root table.
    Model
);
table_view!(OperatorCode);
table_view!(SubGraph);
table_view!(Tensor);
table_view!(QuantizationParameters);
table_view!(Operator);
table_view!(Buffer);
table_view!(
    /// A builtin-options table of any type; typed readers follow.
    OptionsTable
);

impl<'a> Model<'a> {
    pub fn operator_codes(&self) -> Option<TableVector<'a, OperatorCode<'a>>> {
        offset::<TableVector<'a, OperatorCode<'a>>>(&self.table, 1)
    }
    pub fn subgraphs(&self) -> Option<TableVector<'a, SubGraph<'a>>> {
        offset::<TableVector<'a, SubGraph<'a>>>(&self.table, 2)
    }
    pub fn description(&self) -> String {
        string(&self.table, 3)
    }
    pub fn buffers(&self) -> Option<TableVector<'a, Buffer<'a>>> {
        offset::<TableVector<'a, Buffer<'a>>>(&self.table, 4)
    }
}

impl Verifiable for Model<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<u32>("version", slot(0), false)?
            .visit_field::<ForwardsUOffset<TableVector<OperatorCode>>>(
                "operator_codes",
                slot(1),
                false,
            )?
            .visit_field::<ForwardsUOffset<TableVector<SubGraph>>>("subgraphs", slot(2), false)?
            .visit_field::<Bytes>("description", slot(3), false)?
            .visit_field::<ForwardsUOffset<TableVector<Buffer>>>("buffers", slot(4), false)?
            .finish();
        Ok(())
    }
}

impl OperatorCode<'_> {
    /// Returns the pre-2.4 one-byte code, where 127 means "see `builtin_code`".
    pub fn deprecated_builtin_code(&self) -> i8 {
        scalar(&self.table, 0, 0i8)
    }
    pub fn custom_code(&self) -> String {
        string(&self.table, 1)
    }
    pub fn builtin_code(&self) -> i32 {
        scalar(&self.table, 3, 0i32)
    }
}

impl Verifiable for OperatorCode<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<i8>("deprecated_builtin_code", slot(0), false)?
            .visit_field::<Bytes>("custom_code", slot(1), false)?
            .visit_field::<i32>("version", slot(2), false)?
            .visit_field::<i32>("builtin_code", slot(3), false)?
            .finish();
        Ok(())
    }
}

impl<'a> SubGraph<'a> {
    pub fn tensors(&self) -> Option<TableVector<'a, Tensor<'a>>> {
        offset::<TableVector<'a, Tensor<'a>>>(&self.table, 0)
    }
    pub fn inputs(&self) -> Option<Vector<'a, i32>> {
        offset::<Vector<'a, i32>>(&self.table, 1)
    }
    pub fn outputs(&self) -> Option<Vector<'a, i32>> {
        offset::<Vector<'a, i32>>(&self.table, 2)
    }
    pub fn operators(&self) -> Option<TableVector<'a, Operator<'a>>> {
        offset::<TableVector<'a, Operator<'a>>>(&self.table, 3)
    }
    pub fn name(&self) -> String {
        string(&self.table, 4)
    }
}

impl Verifiable for SubGraph<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<TableVector<Tensor>>>("tensors", slot(0), false)?
            .visit_field::<Ints>("inputs", slot(1), false)?
            .visit_field::<Ints>("outputs", slot(2), false)?
            .visit_field::<ForwardsUOffset<TableVector<Operator>>>("operators", slot(3), false)?
            .visit_field::<Bytes>("name", slot(4), false)?
            .finish();
        Ok(())
    }
}

impl<'a> Tensor<'a> {
    pub fn shape(&self) -> Option<Vector<'a, i32>> {
        offset::<Vector<'a, i32>>(&self.table, 0)
    }
    /// Returns the `TensorType` enum value.
    pub fn tensor_type(&self) -> i8 {
        scalar(&self.table, 1, 0i8)
    }
    pub fn buffer(&self) -> u32 {
        scalar(&self.table, 2, 0u32)
    }
    pub fn name(&self) -> String {
        string(&self.table, 3)
    }
    pub fn quantization(&self) -> Option<QuantizationParameters<'a>> {
        offset::<QuantizationParameters<'a>>(&self.table, 4)
    }
    pub fn is_variable(&self) -> bool {
        scalar(&self.table, 5, 0u8) != 0
    }
}

impl Verifiable for Tensor<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<Ints>("shape", slot(0), false)?
            .visit_field::<i8>("type", slot(1), false)?
            .visit_field::<u32>("buffer", slot(2), false)?
            .visit_field::<Bytes>("name", slot(3), false)?
            .visit_field::<ForwardsUOffset<QuantizationParameters>>("quantization", slot(4), false)?
            .visit_field::<u8>("is_variable", slot(5), false)?
            .finish();
        Ok(())
    }
}

impl<'a> QuantizationParameters<'a> {
    pub fn scale(&self) -> Option<Vector<'a, f32>> {
        offset::<Vector<'a, f32>>(&self.table, 2)
    }
    pub fn zero_point(&self) -> Option<Vector<'a, i64>> {
        offset::<Vector<'a, i64>>(&self.table, 3)
    }
    /// Id 4 and 5 are the `details` union (type and value).
    pub fn quantized_dimension(&self) -> i32 {
        scalar(&self.table, 6, 0i32)
    }
}

impl Verifiable for QuantizationParameters<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<f32>>>("min", slot(0), false)?
            .visit_field::<ForwardsUOffset<Vector<f32>>>("max", slot(1), false)?
            .visit_field::<ForwardsUOffset<Vector<f32>>>("scale", slot(2), false)?
            .visit_field::<ForwardsUOffset<Vector<i64>>>("zero_point", slot(3), false)?
            .visit_field::<i32>("quantized_dimension", slot(6), false)?
            .finish();
        Ok(())
    }
}

impl<'a> Operator<'a> {
    pub fn opcode_index(&self) -> u32 {
        scalar(&self.table, 0, 0u32)
    }
    pub fn inputs(&self) -> Option<Vector<'a, i32>> {
        offset::<Vector<'a, i32>>(&self.table, 1)
    }
    pub fn outputs(&self) -> Option<Vector<'a, i32>> {
        offset::<Vector<'a, i32>>(&self.table, 2)
    }
    /// Returns the `BuiltinOptions` union type (0 when absent).
    pub fn builtin_options_type(&self) -> u8 {
        scalar(&self.table, 3, 0u8)
    }
    pub fn builtin_options(&self) -> Option<OptionsTable<'a>> {
        offset::<OptionsTable<'a>>(&self.table, 4)
    }
}

impl Verifiable for Operator<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<u32>("opcode_index", slot(0), false)?
            .visit_field::<Ints>("inputs", slot(1), false)?
            .visit_field::<Ints>("outputs", slot(2), false)?
            .visit_union::<u8, _>(
                "builtin_options_type",
                slot(3),
                "builtin_options",
                slot(4),
                false,
                verify_builtin_options,
            )?
            .visit_field::<Bytes>("custom_options", slot(5), false)?
            .finish();
        Ok(())
    }
}

impl<'a> Buffer<'a> {
    pub fn data(&self) -> Option<Vector<'a, u8>> {
        offset::<Vector<'a, u8>>(&self.table, 0)
    }
    /// File offset of data stored outside the flatbuffer (models over 2 GiB);
    /// 0 or 1 when unused.
    pub fn offset(&self) -> u64 {
        scalar(&self.table, 1, 0u64)
    }
    pub fn size(&self) -> u64 {
        scalar(&self.table, 2, 0u64)
    }
}

impl Verifiable for Buffer<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<Bytes>("data", slot(0), false)?
            .visit_field::<u64>("offset", slot(1), false)?
            .visit_field::<u64>("size", slot(2), false)?
            .finish();
        Ok(())
    }
}

/// `BuiltinOptions` union type values of the option tables fxsim reads.
pub mod options_type {
    pub const CONV_2D: u8 = 1;
    pub const DEPTHWISE_CONV_2D: u8 = 2;
    pub const POOL_2D: u8 = 5;
    pub const FULLY_CONNECTED: u8 = 8;
    pub const SOFTMAX: u8 = 9;
    pub const CONCATENATION: u8 = 10;
    pub const ADD: u8 = 11;
    pub const RESHAPE: u8 = 17;
    pub const MUL: u8 = 21;
    pub const REDUCER: u8 = 27;
}

/// Scalar and vector fields of every options table fxsim reads, by union
/// type: (schema id, field name, kind).
fn options_fields(options_type: u8) -> &'static [(u16, &'static str, FieldKind)] {
    use options_type::*;
    use FieldKind::*;
    match options_type {
        CONV_2D => &[
            (0, "padding", I8),
            (1, "stride_w", I32),
            (2, "stride_h", I32),
            (3, "fused_activation_function", I8),
            (4, "dilation_w_factor", I32),
            (5, "dilation_h_factor", I32),
        ],
        DEPTHWISE_CONV_2D => &[
            (0, "padding", I8),
            (1, "stride_w", I32),
            (2, "stride_h", I32),
            (3, "depth_multiplier", I32),
            (4, "fused_activation_function", I8),
            (5, "dilation_w_factor", I32),
            (6, "dilation_h_factor", I32),
        ],
        POOL_2D => &[
            (0, "padding", I8),
            (1, "stride_w", I32),
            (2, "stride_h", I32),
            (3, "filter_width", I32),
            (4, "filter_height", I32),
            (5, "fused_activation_function", I8),
        ],
        FULLY_CONNECTED => &[
            (0, "fused_activation_function", I8),
            (1, "weights_format", I8),
            (2, "keep_num_dims", I8),
        ],
        SOFTMAX => &[(0, "beta", F32)],
        CONCATENATION => &[(0, "axis", I32), (1, "fused_activation_function", I8)],
        ADD => &[(0, "fused_activation_function", I8)],
        RESHAPE => &[(0, "new_shape", IntVector)],
        MUL => &[(0, "fused_activation_function", I8)],
        REDUCER => &[(0, "keep_dims", I8)],
        _ => &[],
    }
}

#[derive(Clone, Copy)]
enum FieldKind {
    I8,
    I32,
    F32,
    IntVector,
}

/// Verifies a builtin options table: its structure, and the fields fxsim
/// reads for the option types it handles. `pos` is the union field's offset.
fn verify_builtin_options(
    options_type: u8,
    v: &mut Verifier,
    pos: usize,
) -> Result<(), InvalidFlatbuffer> {
    let table_pos = pos.saturating_add(v.get_uoffset(pos)? as usize);
    let mut table = v.visit_table(table_pos)?;
    for &(id, name, kind) in options_fields(options_type) {
        table = match kind {
            FieldKind::I8 => table.visit_field::<i8>(name, slot(id), false)?,
            FieldKind::I32 => table.visit_field::<i32>(name, slot(id), false)?,
            FieldKind::F32 => table.visit_field::<f32>(name, slot(id), false)?,
            FieldKind::IntVector => table.visit_field::<Ints>(name, slot(id), false)?,
        };
    }
    table.finish();
    Ok(())
}

impl Verifiable for OptionsTable<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?.finish();
        Ok(())
    }
}

impl OptionsTable<'_> {
    /// Reads an `i8` field (enums, booleans) of the options table.
    pub fn i8_field(&self, id: u16, default: i8) -> i8 {
        scalar(&self.table, id, default)
    }
    /// Reads an `i32` field of the options table.
    pub fn i32_field(&self, id: u16, default: i32) -> i32 {
        scalar(&self.table, id, default)
    }
    /// Reads an `f32` field of the options table.
    pub fn f32_field(&self, id: u16, default: f32) -> f32 {
        scalar(&self.table, id, default)
    }
}
