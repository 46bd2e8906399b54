#pragma once
// Every layer and module tool: include this, or the one family's header.
#include "fovea/nn/activation.h"
#include "fovea/nn/blocks.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/dropout.h"
#include "fovea/nn/flatten.h"
#include "fovea/nn/init.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/module.h"
#include "fovea/nn/norm.h"
#include "fovea/nn/pool.h"
#include "fovea/nn/resample.h"
#include "fovea/nn/serialize.h"
