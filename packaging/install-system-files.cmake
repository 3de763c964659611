# Runs at install time (install(SCRIPT) in packaging/CMakeLists.txt), for `cmake --install` and
# for cpack alike, so that the files outside the prefix follow the prefix actually installed to
# (`cmake --install build --prefix /usr`, or cpack's /usr) rather than the one configured:
#
#   prefix /usr (the .deb)      /etc/ftpalg/ftpalg.conf, /etc/logrotate.d/ftpalg,
#                               /lib/systemd/system/ftpalg.service (Debian 12's unit directory)
#   any other prefix P          P/etc/ftpalg/ftpalg.conf, P/etc/logrotate.d/ftpalg,
#                               P/lib/systemd/system/ftpalg.service (systemd reads
#                               /usr/local/lib/systemd/system; logrotate reads only /etc)
#   always                      /var/log/ftpalg (0750), which the unit writes the log to
#
# The unit is configured here with the binary's, the config file's and the documentation's
# installed paths. An existing config file is kept (the admin's), like a Debian conffile.
# Inputs (set by install(CODE) before this script): FTPALG_PACKAGING_SOURCE_DIR,
# FTPALG_PACKAGING_BINARY_DIR, FTPALG_SBINDIR, FTPALG_DOCDIR (relative to the prefix).
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(sysconfdir "/etc")
  set(unitdir "/lib/systemd/system")
else()
  set(sysconfdir "${prefix}/etc")
  set(unitdir "${prefix}/lib/systemd/system")
endif()

set(FTPALG_SYSTEMD_UNIT_DIR "${unitdir}")
set(FTPALG_FULL_SBINDIR "${prefix}/${FTPALG_SBINDIR}")
set(FTPALG_FULL_SYSCONFDIR "${sysconfdir}")
set(FTPALG_FULL_DOCDIR "${prefix}/${FTPALG_DOCDIR}")
set(unit "${FTPALG_PACKAGING_BINARY_DIR}/install/ftpalg.service")
configure_file("${FTPALG_PACKAGING_SOURCE_DIR}/ftpalg.service.in" "${unit}" @ONLY)

file(INSTALL "${unit}" DESTINATION "${unitdir}"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${FTPALG_PACKAGING_SOURCE_DIR}/ftpalg.logrotate" DESTINATION "${sysconfdir}/logrotate.d"
     RENAME ftpalg FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
if(EXISTS "$ENV{DESTDIR}${sysconfdir}/ftpalg/ftpalg.conf")
  message(STATUS "Keeping: $ENV{DESTDIR}${sysconfdir}/ftpalg/ftpalg.conf")
else()
  file(INSTALL "${FTPALG_PACKAGING_SOURCE_DIR}/ftpalg.conf" DESTINATION "${sysconfdir}/ftpalg"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()
file(MAKE_DIRECTORY "$ENV{DESTDIR}/var/log/ftpalg")
file(CHMOD "$ENV{DESTDIR}/var/log/ftpalg" DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
     GROUP_READ GROUP_EXECUTE)
