// Placeholder while the parser is written; replaced by the implementation.
#include "monitor/exposition.h"
