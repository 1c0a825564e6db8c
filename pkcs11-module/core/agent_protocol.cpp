#include "core/agent_protocol.h"

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

Bytes framed(ByteView body) {
  WireWriter out;
  out.u32(static_cast<std::uint32_t>(body.size())).raw(body);
  return out.take();
}

Bytes request_identities_message() { return {SSH_AGENTC_REQUEST_IDENTITIES}; }

Bytes sign_request_message(ByteView key_blob, ByteView data, std::uint32_t flags) {
  WireWriter out;
  out.byte(SSH_AGENTC_SIGN_REQUEST).string(key_blob).string(data).u32(flags);
  return out.take();
}

Bytes extension_message(std::string_view name, ByteView contents) {
  WireWriter out;
  out.byte(SSH_AGENTC_EXTENSION).string(name).raw(contents);
  return out.take();
}

namespace {

// The response's type: false for a failure, true for `wanted`; anything else is malformed.
bool expect_type(WireReader& in, std::uint8_t wanted, std::string_view what) {
  if (in.empty()) throw MalformedMessage("empty response");
  std::uint8_t type = in.byte();
  if (type == SSH_AGENT_FAILURE || (wanted == SSH_AGENT_EXTENSION_RESPONSE && type == SSH_AGENT_EXTENSION_FAILURE)) {
    in.expect_end("failure");
    return false;
  }
  if (type != wanted) throw MalformedMessage("message type " + std::to_string(type) + " instead of " + std::string(what));
  return true;
}

}  // namespace

std::optional<std::vector<Identity>> parse_identities_answer(ByteView body) {
  WireReader in(body);
  if (!expect_type(in, SSH_AGENT_IDENTITIES_ANSWER, "an identities answer")) return std::nullopt;
  std::uint32_t count = in.u32();
  // Each identity takes at least 8 bytes: a count larger than the message is a lie.
  if (count > in.rest().size() / 8) throw MalformedMessage("identities answer counts more keys than it holds");
  std::vector<Identity> identities;
  for (; count > 0; --count) {
    ByteView key = in.string();
    identities.push_back({Bytes(key.begin(), key.end()), std::string(in.text())});
  }
  in.expect_end("identities answer");
  return identities;
}

std::optional<Bytes> parse_ed25519_sign_response(ByteView body) {
  WireReader in(body);
  if (!expect_type(in, SSH_AGENT_SIGN_RESPONSE, "a sign response")) return std::nullopt;
  WireReader blob(in.string());
  in.expect_end("sign response");
  if (blob.text() != "ssh-ed25519") throw MalformedMessage("signature is not ssh-ed25519");
  ByteView signature = blob.string();
  blob.expect_end("signature blob");
  if (signature.size() != 64) throw MalformedMessage("Ed25519 signature of " + std::to_string(signature.size()) + " bytes");
  return Bytes(signature.begin(), signature.end());
}

std::optional<Bytes> parse_extension_response(ByteView body, std::string_view name) {
  WireReader in(body);
  if (!expect_type(in, SSH_AGENT_EXTENSION_RESPONSE, "an extension response")) return std::nullopt;
  if (in.text() != name) throw MalformedMessage("extension response names another extension");
  ByteView rest = in.rest();
  return Bytes(rest.begin(), rest.end());
}

}  // namespace brokerkey::agent
