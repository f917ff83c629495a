"""Constants of the public TFLite flatbuffer schema (tensorflow/lite/schema/schema.fbs) that the reader needs.

Enum values and table field orders are fixed by the schema (fields are only ever appended), so these
tables stay valid for every TFLite file version 3.
"""

# BuiltinOperator enum, by value 0..161 (stablehlo ops beyond are not listed: named BUILTIN_<n>).
BUILTIN_OPS = (
    'ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE '
    'EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D '
    'LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 '
    'RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM '
    'EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND '
    'TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN '
    'EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM '
    'LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE '
    'EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX '
    'PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE '
    'ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS '
    'SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG '
    'QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 '
    'SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM '
    'CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT '
    'HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS '
    'RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU DYNAMIC_UPDATE_SLICE RELU_0_TO_1 '
    'UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2 UNSORTED_SEGMENT_MIN SIGN '
    'BITCAST BITWISE_XOR RIGHT_SHIFT'
).split()
assert BUILTIN_OPS[124] == 'DENSIFY' and BUILTIN_OPS[161] == 'RIGHT_SHIFT'

# TensorType enum -> numpy dtype (types a converter can meet in float/fp16/int8 models).
TENSOR_TYPES = {0: 'float32', 1: 'float16', 2: 'int32', 3: 'uint8', 4: 'int64', 6: 'bool', 7: 'int16',
                9: 'int8', 10: 'float64', 12: 'uint64', 15: 'uint32', 16: 'uint16'}

# ActivationFunctionType / Padding enums.
ACTIVATIONS = {0: 'NONE', 1: 'RELU', 2: 'RELU_N1_TO_1', 3: 'RELU6', 4: 'TANH', 5: 'SIGN_BIT'}
PADDING_SAME, PADDING_VALID = 0, 1

# Builtin options tables: fields in slot order as (key, struct format or 'vec' for [int], default).
# key None = a field we skip (deprecated or irrelevant) but whose slot must still be counted.
_ACT = ('fused_activation_function', 'b', 0)
_POOL = (('padding', 'b', 0), ('stride_w', '<i', 1), ('stride_h', '<i', 1), ('filter_width', '<i', 1),
         ('filter_height', '<i', 1), _ACT)
OPTION_FIELDS = {
    'CONV_2D': (('padding', 'b', 0), ('stride_w', '<i', 1), ('stride_h', '<i', 1), _ACT,
                ('dilation_w_factor', '<i', 1), ('dilation_h_factor', '<i', 1)),
    'DEPTHWISE_CONV_2D': (('padding', 'b', 0), ('stride_w', '<i', 1), ('stride_h', '<i', 1),
                          ('depth_multiplier', '<i', 1), _ACT,
                          ('dilation_w_factor', '<i', 1), ('dilation_h_factor', '<i', 1)),
    'TRANSPOSE_CONV': (('padding', 'b', 0), ('stride_w', '<i', 1), ('stride_h', '<i', 1), _ACT),
    'MAX_POOL_2D': _POOL,
    'AVERAGE_POOL_2D': _POOL,
    'ADD': (_ACT,), 'SUB': (_ACT,), 'MUL': (_ACT,), 'DIV': (_ACT,),
    'FULLY_CONNECTED': (_ACT, ('weights_format', 'b', 0), ('keep_num_dims', 'b', 0)),
    'CONCATENATION': (('axis', '<i', 0), _ACT),
    'RESHAPE': (('new_shape', 'vec', None),),
    'RESIZE_BILINEAR': ((None, '<i', 0), (None, '<i', 0), ('align_corners', 'b', 0), ('half_pixel_centers', 'b', 0)),
    'RESIZE_NEAREST_NEIGHBOR': (('align_corners', 'b', 0), ('half_pixel_centers', 'b', 0)),
    'DEPTH_TO_SPACE': (('block_size', '<i', 1),),
    'SPACE_TO_DEPTH': (('block_size', '<i', 1),),
    'SOFTMAX': (('beta', '<f', 1.0),),
    'LEAKY_RELU': (('alpha', '<f', 0.2),),
    'MEAN': (('keep_dims', 'b', 0),),
    'SQUEEZE': (('squeeze_dims', 'vec', None),),
    'GATHER': (('axis', '<i', 0),),
    'MIRROR_PAD': (('mode', 'b', 0),),
}
