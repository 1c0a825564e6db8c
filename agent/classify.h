// What a signature request's data is. The agent signs whatever bytes it is given, so the
// purpose a consumer is granted is decided from the data itself: only data that parses,
// completely, as one of the forms below counts as that form; everything else is raw.
#pragma once

#include <string>

#include "core/bytes.h"
#include "core/consumer_policy.h"

namespace brokerkey::agent {

struct Classified {
  Purpose purpose = Purpose::raw;
  std::string ssh_namespace;  // the SSHSIG namespace, for Purpose::sshsig
};

// `key_blob` is the key the request names; an SSH user-authentication request counts as one
// only when it names that same key.
//  - sshsig: "SSHSIG", string namespace (non-empty), string reserved, string hash algorithm
//    ("sha256" or "sha512"), string hash of that algorithm's length (PROTOCOL.sshsig).
//  - ssh_auth: string session identifier (1-64 bytes), byte 50 (SSH_MSG_USERAUTH_REQUEST),
//    string user, string service, string "publickey" (or OpenSSH's
//    "publickey-hostbound-v00@openssh.com", then a host key string at the end), boolean TRUE,
//    string algorithm, string key blob (RFC 4252 section 7).
//  - cms: a DER SET OF Attribute holding contentType and messageDigest (RFC 5652 section 5.4).
Classified classify(ByteView data, ByteView key_blob);

}  // namespace brokerkey::agent
