# The Debian package, built by CPack's DEB generator from the install rules
# (docs/PACKAGING.md; packaging/build-deb.sh is the one command that builds it).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME brokerkey)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "broker for one Ed25519 signing key over PKCS#11")
# The extended description (CPack indents it and turns the empty line into " .").
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"brokerkey keeps an organisation's one broker-wide Ed25519 signing key inside
a key store (SoftHSMv2 or an HSM), where no person ever handles it, and
serves it to git, OpenSSH, pkcs11-tool, p11tool and CI through a read-only
PKCS#11 module.

The package holds the keytool brokerkey (init, mint, rotate, retire, revoke,
audit, health), git's drop-ins brokerkey-ssh-keygen and brokerkey-gpgsm, the
module libbrokerkey-pkcs11.so registered with p11-kit, its vendor header, the
systemd units (installed, not enabled) and the man pages.")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Depends: from the binaries (dpkg-shlibdeps), plus adduser for the postinst's account.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# softhsm2 is the embedded default 'brokerkey init' sets up, but a production broker names its
# HSM's module instead; openssh-client's ssh-keygen takes every call brokerkey-ssh-keygen
# does not sign.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "softhsm2, openssh-client")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "git, opensc, gnutls-bin")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/debian/postinst)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_STRIP_FILES ON)
# The units and p11-kit's module file live outside the /usr prefix: install with DESTDIR.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
include(CPack)
