#include "classify.h"

#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <optional>

#include "core/agent_wire.h"

namespace brokerkey::agent {

namespace {

constexpr std::uint8_t SSH_MSG_USERAUTH_REQUEST = 50;
constexpr std::size_t kMaxSessionId = 64;

std::string_view as_text(ByteView bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

std::optional<Classified> as_sshsig(ByteView data) {
  constexpr std::string_view kMagic = "SSHSIG";
  if (data.size() < kMagic.size() || as_text(data.first(kMagic.size())) != kMagic) return std::nullopt;
  try {
    WireReader in(data.subspan(kMagic.size()));
    std::string_view ssh_namespace = in.text();
    in.string();  // reserved
    std::string_view algorithm = in.text();
    ByteView hash = in.string();
    in.expect_end("SSHSIG");
    std::size_t want = algorithm == "sha256" ? 32 : algorithm == "sha512" ? 64 : 0;
    if (ssh_namespace.empty() || want == 0 || hash.size() != want) return std::nullopt;
    return Classified{Purpose::sshsig, std::string(ssh_namespace)};
  } catch (const MalformedMessage&) {
    return std::nullopt;
  }
}

bool is_ssh_auth(ByteView data, ByteView key_blob) {
  try {
    WireReader in(data);
    ByteView session = in.string();
    if (session.empty() || session.size() > kMaxSessionId) return false;
    if (in.byte() != SSH_MSG_USERAUTH_REQUEST) return false;
    in.string();  // user
    in.string();  // service
    std::string_view method = in.text();
    bool hostbound = method == "publickey-hostbound-v00@openssh.com";
    if (method != "publickey" && !hostbound) return false;
    if (!in.boolean()) return false;
    in.string();  // algorithm
    ByteView key = in.string();
    if (hostbound) in.string();  // the server's host key
    in.expect_end("userauth request");
    return std::equal(key.begin(), key.end(), key_blob.begin(), key_blob.end());
  } catch (const MalformedMessage&) {
    return false;
  }
}

// A DER tag and definite length at `data`; the header size and the body size, or nullopt.
std::optional<std::pair<std::size_t, std::size_t>> der_header(ByteView data, std::uint8_t tag) {
  if (data.size() < 2 || data[0] != tag) return std::nullopt;
  std::size_t length = data[1];
  std::size_t header = 2;
  if (length & 0x80) {
    std::size_t count = length & 0x7f;
    if (count == 0 || count > 3 || data.size() < 2 + count) return std::nullopt;
    length = 0;
    for (std::size_t i = 0; i < count; ++i) length = length << 8 | data[2 + i];
    header += count;
  }
  if (data.size() - header < length) return std::nullopt;
  return std::pair{header, length};
}

bool is_cms_signed_attributes(ByteView data) {
  auto set = der_header(data, 0x31);
  if (!set || set->first + set->second != data.size()) return false;
  ByteView rest = data.subspan(set->first);
  bool content_type = false;
  bool message_digest = false;
  while (!rest.empty()) {
    auto element = der_header(rest, 0x30);
    if (!element) return false;
    std::size_t size = element->first + element->second;
    const unsigned char* p = rest.data();
    X509_ATTRIBUTE* attribute = d2i_X509_ATTRIBUTE(nullptr, &p, static_cast<long>(size));
    if (!attribute) return false;
    bool whole = p == rest.data() + size;
    int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attribute));
    X509_ATTRIBUTE_free(attribute);
    if (!whole) return false;
    content_type |= nid == NID_pkcs9_contentType;
    message_digest |= nid == NID_pkcs9_messageDigest;
    rest = rest.subspan(size);
  }
  return content_type && message_digest;
}

}  // namespace

Classified classify(ByteView data, ByteView key_blob) {
  if (auto sshsig = as_sshsig(data)) return *sshsig;
  if (is_ssh_auth(data, key_blob)) return {Purpose::ssh_auth, {}};
  if (is_cms_signed_attributes(data)) return {Purpose::cms, {}};
  return {Purpose::raw, {}};
}

}  // namespace brokerkey::agent
