// SHA-256 (FIPS 180-4) of bytes or a file, as lower-case hex: the manifest's config, tokenizer
// and dataset hashes. Files are read in blocks through the page cache, not loaded whole.
#pragma once

#include <string>
#include <string_view>

namespace lsc::io {

std::string sha256_hex(std::string_view bytes);
std::string sha256_file(const std::string& path);  // InputError naming the path if unreadable

}  // namespace lsc::io
