// Owning pointers for the OpenSSL objects brokerkey uses.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>

#include <memory>

namespace brokerkey {

template <auto Free>
struct OpensslDeleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslDeleter<BIO_free_all>>;

}  // namespace brokerkey
