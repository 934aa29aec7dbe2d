# cmake/install.cmake -- what `cmake --install` puts where, and the Debian package (CPack).
#
# bin/bullpen is installed by master/CMakeLists.txt. This file adds the operations files:
# the example configuration, the init script and its /etc/default file, the systemd unit,
# the logrotate snippet and the man pages. Files under /etc use the absolute
# CMAKE_INSTALL_FULL_SYSCONFDIR so that prefix /usr (the package) gives /etc, not /usr/etc.
# The init script and the unit name /usr/bin/bullpen; they are installed with the real
# binary path of this prefix substituted.
#
#   cmake --install build/release --prefix /usr/local
#   cpack --config build/release/CPackConfig.cmake -B build/release/package   # bullpen_*.deb

set(BP_OPS_DIR ${CMAKE_BINARY_DIR}/ops)
set(BP_INSTALLED_BIN ${CMAKE_INSTALL_FULL_BINDIR}/bullpen)

# Copy src to ${BP_OPS_DIR}/name with /usr/bin/bullpen replaced by this prefix's binary.
function(bp_ops_file src name)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${src})
  file(READ ${src} text)
  string(REPLACE "/usr/bin/bullpen" "${BP_INSTALLED_BIN}" text "${text}")
  file(WRITE ${BP_OPS_DIR}/${name} "${text}")
endfunction()

bp_ops_file(${CMAKE_SOURCE_DIR}/scripts/bullpen.init bullpen.init)
bp_ops_file(${CMAKE_SOURCE_DIR}/scripts/bullpen.service bullpen.service)
bp_ops_file(${CMAKE_SOURCE_DIR}/scripts/bullpen.default bullpen.default)

install(FILES config/bullpen.conf.example
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/bullpen OPTIONAL)
install(PROGRAMS ${BP_OPS_DIR}/bullpen.init
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/init.d RENAME bullpen)
install(FILES ${BP_OPS_DIR}/bullpen.default
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default RENAME bullpen)
install(FILES scripts/bullpen.logrotate
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d RENAME bullpen)
# lib/systemd/system under the prefix: /usr/lib/... for the package, /usr/local/lib/...
# otherwise; systemd reads both
install(FILES ${BP_OPS_DIR}/bullpen.service DESTINATION lib/systemd/system)
install(FILES docs/bullpen.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 OPTIONAL)
install(FILES docs/bullpen.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 OPTIONAL)

# ---- Debian package -------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME bullpen)
set(CPACK_PACKAGE_VENDOR bullpen)
set(CPACK_PACKAGE_CONTACT "bullpen maintainers <dev@bullpen.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "prefork worker pool that runs Bull v4 (Node.js) queue jobs from Redis over TLS")
set(CPACK_PACKAGE_DESCRIPTION
    "bullpen is a master process supervising a pool of worker processes written in C that
take jobs from Redis queues in Bull's own format, run them (document chunking, external
programs, plugins) and record the results where Bull expects them, so Node applications,
Bull's API and dashboards see them as their own. Redis over TLS, plain TCP or a Unix
socket; init script, systemd unit, Prometheus metrics.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "bullpen maintainers <dev@bullpen.invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Debian 12 runtime packages of the libraries in the dependency table (README.md)
# libpoppler-glib8, libsystemd0 and libmicrohttpd12 are opened with dlopen() (bp_dl.h), so
# dpkg-shlibdeps would not see them: they are listed here
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6, libhiredis0.14, libssl3, libconfig9, libjansson4, libxml2, libseccomp2, libzip4, libuchardet0, libpoppler-glib8, libsystemd0, libmicrohttpd12, adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-tools, logrotate")
# maintainer scripts: the bullpen system user, systemd reload, conffiles
set(BP_DEB_DIR ${CMAKE_BINARY_DIR}/deb)
foreach(script postinst postrm conffiles)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/deb/${script}.in ${BP_DEB_DIR}/${script} @ONLY)
endforeach()
file(CHMOD ${BP_DEB_DIR}/postinst ${BP_DEB_DIR}/postrm
     PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                 WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${BP_DEB_DIR}/postinst ${BP_DEB_DIR}/postrm ${BP_DEB_DIR}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
