#include "core/sshsig.h"

#include <cstring>

namespace brokerkey {

namespace {

constexpr std::string_view kMagic = "SSHSIG";
constexpr std::string_view kHash = "sha512";

void put_u32(Bytes& out, std::uint32_t n) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(n >> shift));
}
void put_string(Bytes& out, ByteView data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
}
// Resized and copied rather than vector::insert of chars: GCC 12 at -O3 reports a false
// -Wstringop-overflow inside libstdc++ for that insert into an empty vector.
void put_raw(Bytes& out, std::string_view text) {
  if (text.empty()) return;
  std::size_t at = out.size();
  out.resize(at + text.size());
  std::memcpy(out.data() + at, text.data(), text.size());
}

}  // namespace

Bytes sshsig_signed_data(std::string_view signature_namespace, ByteView message) {
  Bytes out;
  put_raw(out, kMagic);
  put_string(out, as_bytes(signature_namespace));
  put_string(out, {});  // reserved
  put_string(out, as_bytes(kHash));
  put_string(out, sha512(message));
  return out;
}

std::string sshsig_armor(const PublicKey& key, std::string_view signature_namespace,
                         const Signature& signature) {
  Bytes ssh_signature;
  put_string(ssh_signature, as_bytes("ssh-ed25519"));
  put_string(ssh_signature, signature);

  Bytes blob;
  put_raw(blob, kMagic);
  put_u32(blob, 1);  // version
  put_string(blob, ssh_wire_blob(key));
  put_string(blob, as_bytes(signature_namespace));
  put_string(blob, {});
  put_string(blob, as_bytes(kHash));
  put_string(blob, ssh_signature);

  std::string base64 = base64_encode(blob);
  std::string out = "-----BEGIN SSH SIGNATURE-----\n";
  for (std::size_t at = 0; at < base64.size(); at += 70) out += base64.substr(at, 70) + "\n";
  out += "-----END SSH SIGNATURE-----\n";
  return out;
}

}  // namespace brokerkey
