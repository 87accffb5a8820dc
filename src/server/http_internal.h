// Private to the server room: the HTTP server object behind Daemon::Http.
#pragma once

#include <httplib.h>

#include "server/daemon.h"

namespace steward::server {

struct Daemon::Http {
  httplib::Server svr;
};

}  // namespace steward::server
