#pragma once
// Everything in fovea/optim: optimizers, learning-rate schedules, gradient clipping.
#include "fovea/optim/adam.h"
#include "fovea/optim/clip.h"
#include "fovea/optim/optimizer.h"
#include "fovea/optim/schedule.h"
#include "fovea/optim/sgd.h"
