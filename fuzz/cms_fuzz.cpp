// What brokerkey-gpgsm --verify reads from a commit: armored or DER CMS. Parsing and checking
// must answer or throw a brokerkey Error; a parsed signature's DER attributes are what it signs.
#include <cstdint>
#include <string_view>

#include "core/cms.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    brokerkey::Bytes der = brokerkey::cms_unarmor(text);
    brokerkey::CmsSignature signature = brokerkey::parse_detached_cms(der);
    (void)brokerkey::cms_signature_fault(signature, brokerkey::as_bytes("tree 0\n"));
    if (signature.signed_attributes.empty() || signature.signed_attributes[0] != 0x31) __builtin_trap();
  } catch (const brokerkey::Error&) {
  }
  return 0;
}
