"""What ad-hoc SQL may reach: the data tables and a reviewed set of functions, nothing else.

Left out on purpose: anything that takes SQL text or a table name as a string (query, query_table,
the histogram table macro, json_*_sql), reads settings, variables, sequences or logs, changes
settings, logging or random state, sleeps, reads files, or lists the catalog.
"""

from __future__ import annotations

DATA_TABLES = frozenset({
    "workers", "tasks", "worker_samples", "task_events", "link_samples", "worker_samples_minute",
    "worker_samples_hour", "alert_rules", "alerts", "alert_deliveries",
    "test_results", "benchmark_results", "quarantine", "worker_drains", "benchmark_triage",
})

TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree"})

_OPERATORS = """!= !__postfix !~~ !~~* % & && * ** + - ->> / // < <-> << <= <=> <@ = > >= >> @ @> ^ ^@ | || ~ ~~
~~* ~~~ __cast __between add subtract multiply divide mod decimal_division"""
_MATH = """abs acos acosh asin asinh atan atan2 atanh bit_count cbrt ceil ceiling cos cosh cot degrees even exp
factorial floor fmod gamma gcd greatest greatest_common_divisor isfinite isinf isnan lcm least
least_common_multiple lgamma ln log log10 log2 nextafter pi pow power radians random round round_even
roundbankers sign signbit sin sinh sqrt tan tanh trunc xor equi_width_bins bar"""
_STRING = """ascii base64 bin bit_length chr concat concat_ws contains damerau_levenshtein editdist3 ends_with
format format_bytes formatReadableDecimalSize formatReadableSize from_base64 from_binary from_hex hamming hash
hex ilike_escape instr jaccard jaro_similarity jaro_winkler_similarity lcase left left_grapheme len length
length_grapheme levenshtein like_escape lower lpad ltrim md5 md5_number mismatches nfc_normalize
not_ilike_escape not_like_escape octet_length ord parse_formatted_bytes position prefix printf repeat replace
reverse right right_grapheme rpad rtrim sha1 sha256 split split_part starts_with str_split str_split_regex
strip_accents strlen strpos string_split string_split_regex string_to_array substr substring
substring_grapheme suffix to_base to_base64 to_binary to_hex translate trim ucase unbin unhex unicode upper
url_decode url_encode regexp_escape regexp_extract regexp_extract_all regexp_full_match regexp_matches
regexp_replace regexp_split_to_array uuid gen_random_uuid uuidv4 uuidv7 uuid_extract_timestamp
uuid_extract_version encode decode"""
_TIME = """age century current_date current_localtime current_localtimestamp date_diff date_part date_sub
date_trunc datediff datepart datesub datetrunc day dayname dayofmonth dayofweek dayofyear decade epoch
epoch_ms epoch_ns epoch_us era get_current_time get_current_timestamp hour isodow isoyear julian last_day
make_date make_time make_timestamp make_timestamp_ms make_timestamp_ns make_timestamptz microsecond
millennium millisecond minute month monthname nanosecond normalized_interval now quarter second strftime
strptime time_bucket timezone timezone_hour timezone_minute to_centuries to_days to_decades to_hours
to_microseconds to_millennia to_milliseconds to_minutes to_months to_quarters to_seconds to_timestamp
to_weeks to_years today transaction_timestamp try_strptime week weekday weekofyear year yearweek"""
_NESTED = """aggregate apply array_aggr array_aggregate array_apply array_cat array_concat array_contains
array_cosine_distance array_cosine_similarity array_cross_product array_distance array_distinct
array_dot_product array_extract array_filter array_grade_up array_has array_has_all array_has_any
array_indexof array_inner_product array_intersect array_length array_position array_reduce array_resize
array_reverse_sort array_select array_slice array_sort array_to_string array_transform array_unique
array_value array_where array_zip cardinality element_at filter flatten grade_up list_aggr list_aggregate
list_apply list_cat list_concat list_contains list_cosine_distance list_cosine_similarity list_distance
list_distinct list_dot_product list_element list_extract list_filter list_grade_up list_has list_has_all
list_has_any list_indexof list_inner_product list_intersect list_pack list_position list_reduce
list_resize list_reverse_sort list_select list_slice list_sort list_transform list_unique list_value
list_where list_zip map map_concat map_contains map_entries map_extract map_extract_value map_from_entries
map_keys map_values range generate_series reduce row struct_concat struct_contains struct_extract
struct_extract_at struct_has struct_indexof struct_insert struct_keys struct_pack struct_position
struct_update struct_values union_extract union_tag union_value unpivot_list enum_code enum_first enum_last
enum_range enum_range_boundary typeof constant_or_null"""
_JSON = """from_json from_json_strict json_array json_array_length json_contains json_exists json_extract
json_extract_path json_extract_path_text json_extract_string json_keys json_merge_patch json_object
json_pretty json_quote json_structure json_transform json_transform_strict json_type json_valid
json_value to_json array_to_json row_to_json json"""
_AGGREGATES = """any_value approx_count_distinct approx_quantile approx_top_k arbitrary arg_max arg_max_null
arg_max_nulls_last arg_min arg_min_null arg_min_nulls_last argmax argmin array_agg avg bit_and bit_or
bit_xor bool_and bool_or corr count count_if count_star countif covar_pop covar_samp entropy favg first
fsum group_concat histogram histogram_exact kahan_sum kurtosis kurtosis_pop last list listagg mad max
max_by mean median min min_by mode product quantile quantile_cont quantile_disc regr_avgx regr_avgy
regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy reservoir_quantile sem skewness
stddev stddev_pop stddev_samp string_agg sum sum_no_overflow sumkahan var_pop var_samp variance"""
# Inserted by DuckDB's own optimizer into plans of ordinary queries.
_INTERNAL = """__internal_compress_integral_ubigint __internal_compress_integral_uinteger
__internal_compress_integral_usmallint __internal_compress_integral_utinyint __internal_compress_string_hugeint
__internal_compress_string_ubigint __internal_compress_string_uhugeint __internal_compress_string_uinteger
__internal_compress_string_usmallint __internal_compress_string_utinyint __internal_decompress_integral_bigint
__internal_decompress_integral_hugeint __internal_decompress_integral_integer
__internal_decompress_integral_smallint __internal_decompress_integral_ubigint
__internal_decompress_integral_uhugeint __internal_decompress_integral_uinteger
__internal_decompress_integral_usmallint __internal_decompress_string __internal_compressed_materialization_cast
__internal_tablefilter_dynamic __internal_tablefilter_optional __internal_tablefilter_selectivity_optional
__internal_tablefilter_prefix_range __internal_tablefilter_bloom_filter"""

FUNCTIONS = frozenset(" ".join([_OPERATORS, _MATH, _STRING, _TIME, _NESTED, _JSON, _AGGREGATES, _INTERNAL]).split())
