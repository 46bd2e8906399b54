#pragma once
#include "fovea/nn/init.h"
#include "fovea/nn/layers.h"
#include "fovea/nn/module.h"
#include "fovea/nn/serialize.h"
