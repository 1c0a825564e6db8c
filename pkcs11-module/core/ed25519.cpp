#include "core/ed25519.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>

#include "core/error.h"
#include "core/openssl_ptr.h"

namespace brokerkey {

std::string Fingerprint::hex() const { return hex_encode(bytes); }

Fingerprint Fingerprint::from_hex(std::string_view text) {
  auto decoded = hex_decode(text);
  if (text.size() != 64 || !decoded) {
    throw invalid_input("a fingerprint is 64 hex characters, got '" + std::string(text) + "'");
  }
  Fingerprint fp;
  std::copy(decoded->begin(), decoded->end(), fp.bytes.begin());
  return fp;
}

Fingerprint fingerprint_of(const PublicKey& key) { return Fingerprint{sha256(key.raw)}; }

namespace {
constexpr std::uint8_t kEdwards25519Name[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd',
                                              's',  '2',  '5', '5', '1', '9'};
constexpr std::uint8_t kEd25519Oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};

PublicKey key_from(ByteView raw32) {
  PublicKey key;
  std::copy(raw32.begin(), raw32.end(), key.raw.begin());
  return key;
}

EvpPkeyPtr evp_public_key(const PublicKey& key) {
  EvpPkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.raw.data(), key.raw.size()));
  if (!pkey) throw crypto_failed("OpenSSL rejected an Ed25519 public key");
  return pkey;
}

void put_ssh_string(Bytes& out, ByteView data) {
  auto n = static_cast<std::uint32_t>(data.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(n >> shift));
  out.insert(out.end(), data.begin(), data.end());
}
}  // namespace

ByteView ec_params_edwards25519() { return kEdwards25519Name; }
ByteView ec_params_ed25519_oid() { return kEd25519Oid; }

Bytes ec_point_der(const PublicKey& key) {
  Bytes out(2 + key.raw.size());
  out[0] = 0x04;  // OCTET STRING
  out[1] = 0x20;  // of 32 bytes
  std::copy(key.raw.begin(), key.raw.end(), out.begin() + 2);
  return out;
}

PublicKey public_key_from_ec_point(ByteView value) {
  if (value.size() == 32) return key_from(value);
  if (value.size() == 34 && value[0] == 0x04 && value[1] == 0x20) return key_from(value.subspan(2));
  if (value.size() == 35 && value[0] == 0x03 && value[1] == 0x21 && value[2] == 0x00) {
    return key_from(value.subspan(3));
  }
  throw integrity_failed("the backend's CKA_EC_POINT (" + std::to_string(value.size()) +
                         " bytes) is not an Ed25519 public key in a known encoding");
}

Bytes ssh_wire_blob(const PublicKey& key) {
  Bytes out;
  put_ssh_string(out, as_bytes("ssh-ed25519"));
  put_ssh_string(out, key.raw);
  return out;
}

std::string ssh_public_key_line(const PublicKey& key, std::string_view comment) {
  // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict inside libstdc++ for
  // `"literal" + std::string` (GCC bug 105651).
  std::string line = "ssh-ed25519 ";
  line += base64_encode(ssh_wire_blob(key));
  if (!comment.empty()) {
    line += ' ';
    line += comment;
  }
  return line;
}

std::string ssh_fingerprint(const PublicKey& key) {
  std::string b64 = base64_encode(sha256(ssh_wire_blob(key)));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

Bytes spki_der(const PublicKey& key) {
  // RFC 8410 section 4: for Ed25519 the DER is one fixed 12-byte header (SEQUENCE { SEQUENCE {
  // OID 1.3.101.112 }, BIT STRING of 33 bytes, no unused bits }) and the 32 raw bytes, so it is
  // written directly, like ec_point_der. Through OpenSSL (EVP_PKEY, i2d_PUBKEY) the module's
  // objects would start OpenSSL's providers in every client process for 44 constant-shaped
  // bytes (docs/PERFORMANCE.md, session 5); ed25519_test checks both give the same bytes.
  static constexpr std::uint8_t kHeader[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                             0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
  Bytes out(sizeof kHeader + key.raw.size());
  std::copy(std::begin(kHeader), std::end(kHeader), out.begin());
  std::copy(key.raw.begin(), key.raw.end(), out.begin() + sizeof kHeader);
  return out;
}

std::string spki_pem(const PublicKey& key) {
  EvpPkeyPtr pkey = evp_public_key(key);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) {
    throw crypto_failed("cannot write PEM public key");
  }
  return memory_bio_text(bio.get());
}

bool ed25519_verify(const PublicKey& key, ByteView message, ByteView signature) {
  if (signature.size() != 64) return false;
  EvpPkeyPtr pkey = evp_public_key(key);
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    throw crypto_failed("cannot set up Ed25519 verification");
  }
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                          message.size()) == 1;
}

}  // namespace brokerkey
