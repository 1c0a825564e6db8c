// OpenSSH signatures (PROTOCOL.sshsig): what is signed, and the armored result that
// 'ssh-keygen -Y verify' and git read.
#pragma once

#include <string>
#include <string_view>

#include "core/backend.h"
#include "core/ed25519.h"

namespace brokerkey {

// The bytes the key signs: "SSHSIG", namespace, reserved, "sha512", SHA-512(message).
Bytes sshsig_signed_data(std::string_view signature_namespace, ByteView message);

// -----BEGIN SSH SIGNATURE----- ... for an Ed25519 signature over sshsig_signed_data().
std::string sshsig_armor(const PublicKey& key, std::string_view signature_namespace,
                         const Signature& signature);

}  // namespace brokerkey
