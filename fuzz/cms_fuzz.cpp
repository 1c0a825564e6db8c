// What brokerkey-gpgsm --verify reads: an armored or DER detached CMS, and the signed content.
// An armored input carries its content after the -----END SIGNED MESSAGE----- line, so seeds
// made by the real brokerkey-gpgsm reach the end of a successful verification. Parsing and
// checking must answer or throw a brokerkey Error; a parsed signature covers a DER SET OF.
#include <cstdint>
#include <string_view>

#include "core/cms.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kEnd = "-----END SIGNED MESSAGE-----\n";
  std::size_t end = text.find(kEnd);
  std::string_view content = end == std::string_view::npos ? "" : text.substr(end + kEnd.size());
  try {
    brokerkey::CmsSignature signature = brokerkey::parse_detached_cms(brokerkey::cms_unarmor(text));
    if (signature.signed_attributes.empty() || signature.signed_attributes[0] != 0x31) {
      __builtin_trap();
    }
    (void)brokerkey::cms_signature_fault(signature, brokerkey::as_bytes(content));
  } catch (const brokerkey::Error&) {
  }
  return 0;
}
