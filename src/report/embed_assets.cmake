# Writes OUT: a C++ source with the bytes of JS and CSS as unsigned char arrays (report.js and
# report.css compiled into the binary). Run at build time by src/report/CMakeLists.txt.
function(lsc_embed var file out_var)
  file(READ "${file}" hex HEX)
  string(LENGTH "${hex}" n_hex)
  math(EXPR n "${n_hex} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" body "${body}")
  set(${out_var} "extern const unsigned char ${var}[] = {\n${body}0x00};\nextern const size_t ${var}Size = ${n};\n" PARENT_SCOPE)
endfunction()
lsc_embed(kReportJs "${JS}" js_src)
lsc_embed(kReportCss "${CSS}" css_src)
file(WRITE "${OUT}.tmp" "// Generated from src/report/web/ by embed_assets.cmake; do not edit.\n#include <cstddef>\nnamespace lsc::report {\n${js_src}${css_src}}  // namespace lsc::report\n")
file(RENAME "${OUT}.tmp" "${OUT}")
