# libkreconcile-testserver: the client-certificate check calls GnuTLS
# directly (libmicrohttpd's TLS backend).
TS_LIBS += $(shell $(PKG_CONFIG) --libs gnutls 2>/dev/null)
