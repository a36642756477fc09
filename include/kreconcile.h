/* libkreconcile — umbrella header: include this to get the whole public API.
 * See README.md for the threading model; each module header says which
 * thread may call each of its functions. */
#ifndef KRECONCILE_H
#define KRECONCILE_H

#include "kreconcile/accessreview.h"
#include "kreconcile/client.h"
#include "kreconcile/common.h"
#include "kreconcile/config.h"
#include "kreconcile/controller.h"
#include "kreconcile/events.h"
#include "kreconcile/informer.h"
#include "kreconcile/inventory.h"
#include "kreconcile/leader.h"
#include "kreconcile/managed.h"
#include "kreconcile/manager.h"
#include "kreconcile/metrics.h"
#include "kreconcile/patch.h"
#include "kreconcile/platform.h"
#include "kreconcile/queue.h"
#include "kreconcile/ratelimit.h"
#include "kreconcile/reflector.h"
#include "kreconcile/runtime.h"
#include "kreconcile/selector.h"
#include "kreconcile/store.h"
#include "kreconcile/tokenfile.h"
#include "kreconcile/tokenreview.h"
#include "kreconcile/yaml.h"

#endif /* KRECONCILE_H */
