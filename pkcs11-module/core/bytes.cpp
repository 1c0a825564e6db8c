#include "core/bytes.h"

// SHA-256 through OpenSSL's one-shot low-level interface (below), which 3.0 marks deprecated.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/error.h"

namespace brokerkey {

ByteView as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string hex_encode(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::uint8_t byte : data) {
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0x0f]);
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<Bytes> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  Bytes out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int high = hex_value(text[i]);
    int low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(high << 4 | low));
  }
  return out;
}

std::string base64_encode(ByteView data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) return std::nullopt;
  }
  Bytes out(text.size() / 4 * 3);
  int written = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes; take them off again.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(written) - padding);
  if (base64_encode(out) != text) return std::nullopt;  // rejects misplaced '=' and stray bits
  return out;
}

std::string pem_encode(ByteView data, std::string_view label) {
  std::string body = base64_encode(data);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (std::size_t i = 0; i < body.size(); i += 64) out += body.substr(i, 64) + "\n";
  return out + "-----END " + std::string(label) + "-----\n";
}

std::optional<Bytes> pem_decode(std::string_view text, std::string_view label) {
  std::string begin = "-----BEGIN " + std::string(label) + "-----";
  std::string end = "-----END " + std::string(label) + "-----";
  std::size_t from = text.find(begin);
  if (from == std::string_view::npos) return std::nullopt;
  from += begin.size();
  std::size_t to = text.find(end, from);
  if (to == std::string_view::npos) return std::nullopt;
  std::string body;
  for (char c : text.substr(from, to - from)) {
    if (c != '\n' && c != '\r') body.push_back(c);
  }
  return base64_decode(body);
}

Bytes der_tlv(std::uint8_t tag, ByteView body) {
  Bytes out{tag};
  std::size_t n = body.size();
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    int width = 0;
    for (std::size_t rest = n; rest != 0; rest >>= 8) ++width;
    out.push_back(static_cast<std::uint8_t>(0x80 | width));
    for (int shift = (width - 1) * 8; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(n >> shift));
  }
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

namespace {
template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, ByteView data) {
  std::array<std::uint8_t, N> out{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &length, md, nullptr) != 1 || length != N) {
    throw crypto_failed("message digest failed");
  }
  return out;
}
}  // namespace

// SHA-256 is the one hash every brokerkey process needs (fingerprints, the ledger's chain, the
// view's keys), and often the only use of OpenSSL in it: the module in client mode and the
// keytool's read commands check fingerprints and nothing else. Through EVP the first digest
// starts OpenSSL's provider machinery in the process (its configuration file, the default
// provider, the algorithm store): about 0.8 ms, the largest single cost of a client's cold
// start in client mode (docs/PERFORMANCE.md, session 5), and paid by the host process (ssh,
// pkcs11-tool) that loaded the module. The low-level context computes the same function with
// the same code and starts nothing. Deprecated in OpenSSL 3.0, still in every 3.x; nothing
// here needs a provider's choice of implementation (the value is the value).
Sha256 sha256(ByteView data) {
  Sha256 out{};
  SHA256_CTX context;
  if (SHA256_Init(&context) != 1 || SHA256_Update(&context, data.data(), data.size()) != 1 ||
      SHA256_Final(out.data(), &context) != 1) {
    OPENSSL_cleanse(&context, sizeof context);
    throw crypto_failed("SHA-256 failed");
  }
  OPENSSL_cleanse(&context, sizeof context);
  return out;
}
std::array<std::uint8_t, 64> sha512(ByteView data) { return digest<64>(EVP_sha512(), data); }

WipeOnExit::~WipeOnExit() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

}  // namespace brokerkey
