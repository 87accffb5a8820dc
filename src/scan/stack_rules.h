// The stack rules (ids "stack-…", listed with their fixes in docs/scan-rules.md), run on the
// parsed model by ScanStack (config_scan.h): a service without a health check; a stateful
// service (a database program or image, a data-directory flag or env var, a container volume)
// without `backup:`; a secret-looking env value written as a literal instead of a
// `${secret:NAME}` reference (the value is never printed); a service reachable beyond this
// machine without TLS (an ingress bound to a non-loopback address, or a program told to listen
// on 0.0.0.0 with no certificate in sight); no alert receiver; a container image on :latest
// (services whose command is `docker run`/`podman run` — the model has no container driver yet).
//
// The model keeps locations of services, not of their env entries, and holds env values after
// ${VAR} interpolation. When the stack file (Stack::path) can be read, its YAML gives the line
// of each env key and tells a value written as ${VAR} (which is not plaintext in the file) from
// a literal; otherwise the service's line and the model's value are used.
// Thread safety: stateless; safe to call concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/url.h"  // IsLoopbackHost
#include "config/stack.h"

namespace steward::scan {

// `docker run … IMAGE …` / `podman run …` in a service's command and args: the image, or ""
// when the service does not run a container.
std::string ContainerImage(const config::Service& service);

}  // namespace steward::scan
