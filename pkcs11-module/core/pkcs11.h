// The PKCS#11 header brokerkey builds against: p11-kit's (2.40), plus the few PKCS#11 3.0
// definitions it lacks, and brokerkey's own vendor constants.
#pragma once

#include <p11-kit/pkcs11.h>

#include "brokerkey/pkcs11-vendor.h"

#ifndef CKR_OPERATION_CANCEL_FAILED
// PKCS#11 3.0, section 2.3.7: parameters of CKM_EDDSA.
struct CK_EDDSA_PARAMS {
  CK_BBOOL phFlag;
  CK_ULONG ulContextDataLen;
  CK_BYTE_PTR pContextData;
};
#endif
