// The subset of the ssh-agent protocol (RFC 9987) brokerkey-agent speaks: a client lists the
// broker key, asks for signatures with it, and queries the extensions below. Every other
// request (adding or removing keys, locking, smartcard keys, unknown types) is answered
// SSH_AGENT_FAILURE, as RFC 9987 section 3 requires for what an agent does not support.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/agent_wire.h"

namespace brokerkey::agent {

// Message numbers, RFC 9987 section 6.1.
enum MessageType : std::uint8_t {
  SSH_AGENT_FAILURE = 5,
  SSH_AGENT_SUCCESS = 6,
  SSH_AGENTC_REQUEST_IDENTITIES = 11,
  SSH_AGENT_IDENTITIES_ANSWER = 12,
  SSH_AGENTC_SIGN_REQUEST = 13,
  SSH_AGENT_SIGN_RESPONSE = 14,
  SSH_AGENTC_EXTENSION = 27,
  SSH_AGENT_EXTENSION_FAILURE = 28,
  SSH_AGENT_EXTENSION_RESPONSE = 29,
};

// The largest frame (the uint32 length that precedes each message) the agent reads; a longer
// one closes the connection. OpenSSH's own agent allows 256 KiB too (AGENT_MAX_LEN).
constexpr std::size_t kMaxFrameLength = 256 * 1024;

// Signature flags a client may set (RFC 9987 section 3.6.1). Both ask RSA for SHA-2 and mean
// nothing for Ed25519, so they are accepted and ignored; any other bit is refused.
constexpr std::uint32_t SSH_AGENT_RSA_SHA2_256 = 0x02;
constexpr std::uint32_t SSH_AGENT_RSA_SHA2_512 = 0x04;

// Extension names (RFC 9987 section 3.8; private ones end in @domain, RFC 4251 section 4.2).
constexpr std::string_view kQueryExtension = "query";
constexpr std::string_view kViewExtension = "view@brokerkey.org";
constexpr std::string_view kHealthExtension = "health@brokerkey.org";
// Binds a consumer to the connection (docs/AGENT.md): contents are one string, the consumer
// PIN ("NAME:SECRET"), or empty to log in as the consumer the peer's credentials name (the
// PKCS#11 protected authentication path). Answered SSH_AGENT_EXTENSION_RESPONSE with one
// string, the consumer's name, or SSH_AGENT_EXTENSION_FAILURE.
constexpr std::string_view kLoginExtension = "login@brokerkey.org";

struct RequestIdentities {};
struct SignRequest {
  Bytes key_blob;  // the public key, in the SSH wire encoding
  Bytes data;      // exactly what is to be signed
  std::uint32_t flags = 0;
};
struct ExtensionRequest {
  std::string name;
  Bytes contents;  // extension-specific
};
struct UnsupportedRequest {
  std::uint8_t type = 0;
};
using Request = std::variant<RequestIdentities, SignRequest, ExtensionRequest, UnsupportedRequest>;

// Parses one message (a frame's body: type byte, then the fields). Throws MalformedMessage when
// a supported request lacks a field or has bytes after its last one, or the body is empty.
Request parse_request(ByteView body);

// Responses, each a message body (without the frame length).
Bytes failure_message();
Bytes extension_failure_message();
struct Identity {
  Bytes key_blob;
  std::string comment;
};
Bytes identities_answer(const std::vector<Identity>& identities);
// SSH_AGENT_SIGN_RESPONSE with the signature blob: string "ssh-ed25519", string signature.
Bytes ed25519_sign_response(ByteView signature);
Bytes extension_response(std::string_view name, ByteView contents);

// The frame around a message: uint32 length, then the body.
Bytes framed(ByteView body);

// The client's side: requests, and the responses it reads. A parser returns nullopt for
// SSH_AGENT_FAILURE (and SSH_AGENT_EXTENSION_FAILURE for an extension), and throws
// MalformedMessage for any other message, a missing field or trailing bytes.
Bytes request_identities_message();
Bytes sign_request_message(ByteView key_blob, ByteView data, std::uint32_t flags = 0);
// `contents` follow the name as they are (for the text extensions above: one string, or none).
Bytes extension_message(std::string_view name, ByteView contents = {});
std::optional<std::vector<Identity>> parse_identities_answer(ByteView body);
// The 64 signature bytes of an `ssh-ed25519` signature blob.
std::optional<Bytes> parse_ed25519_sign_response(ByteView body);
// The contents after the name, which must be `name`.
std::optional<Bytes> parse_extension_response(ByteView body, std::string_view name);

}  // namespace brokerkey::agent
