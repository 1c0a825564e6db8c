#include "core/consumer_pin.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/bytes.h"
#include "core/error.h"

namespace brokerkey {

namespace {
constexpr std::string_view kAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";  // 31 symbols
constexpr std::size_t kPinLength = 24;
constexpr std::size_t kHashLength = 32;

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) throw crypto_failed("RAND_bytes failed");
  return out;
}

Bytes scrypt(std::string_view pin, ByteView salt, const ScryptParams& params) {
  Bytes out(kHashLength);
  std::uint64_t n = std::uint64_t{1} << params.log2_n;
  if (EVP_PBE_scrypt(pin.data(), pin.size(), salt.data(), salt.size(), n, params.r, params.p,
                     std::uint64_t{1} << 30, out.data(), out.size()) != 1) {
    throw crypto_failed("scrypt failed");
  }
  return out;
}
}  // namespace

Secret generate_pin() {
  std::string pin;
  pin.reserve(kPinLength);
  while (pin.size() < kPinLength) {
    Bytes candidates = random_bytes(kPinLength);
    for (std::uint8_t byte : candidates) {
      // Rejection sampling keeps every symbol equally likely.
      if (byte < 248 && pin.size() < kPinLength) pin.push_back(kAlphabet[byte % kAlphabet.size()]);
    }
    OPENSSL_cleanse(candidates.data(), candidates.size());
  }
  return Secret(std::move(pin));
}

void check_consumer_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (std::size_t i = 0; ok && i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    ok = alnum || (i > 0 && (c == '.' || c == '_' || c == '-'));
  }
  if (!ok) {
    throw invalid_input("consumer name '" + std::string(name) +
                        "' must be 1 to 64 characters [a-z0-9._-], starting with a letter or digit");
  }
}

ConsumerEntry make_consumer_entry(std::string_view name, const Secret& pin, ScryptParams params) {
  check_consumer_name(name);
  Bytes salt = random_bytes(16);
  ConsumerEntry entry;
  entry.name = std::string(name);
  entry.salt = base64_encode(salt);
  entry.hash = base64_encode(scrypt(pin.view(), salt, params));
  entry.scrypt = params;
  return entry;
}

bool pin_matches(const ConsumerEntry& entry, std::string_view pin) {
  auto salt = base64_decode(entry.salt);
  auto expected = base64_decode(entry.hash);
  if (!salt || !expected || expected->size() != kHashLength) return false;
  Bytes actual = scrypt(pin, *salt, entry.scrypt);
  return CRYPTO_memcmp(actual.data(), expected->data(), kHashLength) == 0;
}

}  // namespace brokerkey
