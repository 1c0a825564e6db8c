#include "protocol.h"

namespace brokerkey::agent {

namespace {

constexpr std::size_t kMaxExtensionName = 256;

}  // namespace

Request parse_request(ByteView body) {
  WireReader in(body);
  if (in.empty()) throw MalformedMessage("empty message");
  std::uint8_t type = in.byte();
  switch (type) {
    case SSH_AGENTC_REQUEST_IDENTITIES:
      in.expect_end("SSH_AGENTC_REQUEST_IDENTITIES");
      return RequestIdentities{};
    case SSH_AGENTC_SIGN_REQUEST: {
      SignRequest request;
      ByteView key = in.string();
      ByteView data = in.string();
      request.flags = in.u32();
      in.expect_end("SSH_AGENTC_SIGN_REQUEST");
      request.key_blob.assign(key.begin(), key.end());
      request.data.assign(data.begin(), data.end());
      return request;
    }
    case SSH_AGENTC_EXTENSION: {
      std::string_view name = in.text();
      if (name.empty() || name.size() > kMaxExtensionName) {
        throw MalformedMessage("extension name empty or too long");
      }
      ByteView rest = in.rest();
      return ExtensionRequest{std::string(name), Bytes(rest.begin(), rest.end())};
    }
    default:
      return UnsupportedRequest{type};
  }
}

Bytes failure_message() { return {SSH_AGENT_FAILURE}; }

Bytes extension_failure_message() { return {SSH_AGENT_EXTENSION_FAILURE}; }

Bytes identities_answer(const std::vector<Identity>& identities) {
  WireWriter out;
  out.byte(SSH_AGENT_IDENTITIES_ANSWER).u32(static_cast<std::uint32_t>(identities.size()));
  for (const Identity& identity : identities) out.string(identity.key_blob).string(identity.comment);
  return out.take();
}

Bytes ed25519_sign_response(ByteView signature) {
  WireWriter blob;
  blob.string(std::string_view("ssh-ed25519")).string(signature);
  WireWriter out;
  out.byte(SSH_AGENT_SIGN_RESPONSE).string(blob.bytes());
  return out.take();
}

Bytes extension_response(std::string_view name, ByteView contents) {
  WireWriter out;
  out.byte(SSH_AGENT_EXTENSION_RESPONSE).string(name).raw(contents);
  return out.take();
}

Bytes framed(const Bytes& body) {
  WireWriter out;
  out.u32(static_cast<std::uint32_t>(body.size())).raw(body);
  return out.take();
}

}  // namespace brokerkey::agent
