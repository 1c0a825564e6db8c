#include "core/text.h"

#include "core/error.h"

namespace brokerkey {

namespace {

// The code point starting at `at` and its length in bytes, or length 0 when the bytes there
// are not well-formed UTF-8 (overlong forms, surrogates and values above U+10FFFF included).
std::pair<char32_t, std::size_t> decode(std::string_view text, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(at);
  if (lead < 0x80) return {lead, 1};
  std::size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  if (length == 0 || lead > 0xF4 || at + length > text.size()) return {0, 0};
  char32_t cp = lead & (0x7F >> length);
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (byte(at + i) & 0x3F);
  }
  static constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinimum[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, length};
}

bool forbidden(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

std::string hex_byte(unsigned char byte) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("\\x") + kHex[byte >> 4] + kHex[byte & 0xF];
}

}  // namespace

std::optional<std::string> text_fault(std::string_view value, std::size_t max_length) {
  if (value.size() > max_length) {
    return "is " + std::to_string(value.size()) + " bytes long; at most " +
           std::to_string(max_length) + " are kept";
  }
  for (std::size_t at = 0; at < value.size();) {
    auto [cp, length] = decode(value, at);
    if (length == 0) return "is not valid UTF-8 (byte " + std::to_string(at + 1) + ")";
    if (forbidden(cp)) {
      return "holds a control, line-breaking or direction-changing character (at byte " +
             std::to_string(at + 1) + ")";
    }
    at += length;
  }
  return std::nullopt;
}

void check_text(std::string_view what, std::string_view value, std::size_t max_length) {
  if (auto fault = text_fault(value, max_length))
    throw invalid_input(std::string(what) + " " + *fault);
}

std::string printable(std::string_view value) {
  std::string out;
  for (std::size_t at = 0; at < value.size();) {
    auto [cp, length] = decode(value, at);
    if (length == 0 || forbidden(cp) || cp == '\\') {
      out += hex_byte(static_cast<unsigned char>(value[at]));
      ++at;
    } else {
      out.append(value.substr(at, length));
      at += length;
    }
  }
  return out;
}

}  // namespace brokerkey
