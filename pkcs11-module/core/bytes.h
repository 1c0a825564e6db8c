// Byte strings and their text forms (hex, base64), and the two digests brokerkey uses.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brokerkey {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using Sha256 = std::array<std::uint8_t, 32>;

ByteView as_bytes(std::string_view text);

std::string hex_encode(ByteView data);
// Lowercase or uppercase hex, even length; nullopt otherwise.
std::optional<Bytes> hex_decode(std::string_view text);

std::string base64_encode(ByteView data);
// Strict: standard alphabet, padding required, no whitespace; nullopt otherwise.
std::optional<Bytes> base64_decode(std::string_view text);

// PEM-style armor: "-----BEGIN <label>-----", base64 in 64-column lines, "-----END <label>-----".
std::string pem_encode(ByteView data, std::string_view label);
// The body of the first <label> block in `text` (headers such as "Version:" are not
// accepted); nullopt when there is none or its base64 is invalid.
std::optional<Bytes> pem_decode(std::string_view text, std::string_view label);

// DER: tag, definite length, body.
Bytes der_tlv(std::uint8_t tag, ByteView body);

Sha256 sha256(ByteView data);
std::array<std::uint8_t, 64> sha512(ByteView data);

// Overwrites a buffer that held a secret (a PIN on its way to the agent) when the scope ends,
// however it ends.
class WipeOnExit {
 public:
  explicit WipeOnExit(Bytes& bytes) : bytes_(bytes) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit();

 private:
  Bytes& bytes_;
};

}  // namespace brokerkey
