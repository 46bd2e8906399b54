# Runs the CLI's cheap commands and checks their exit codes and output.
# Every argument is one command line (a ;-list): each must exit non-zero with "error: [op] ...".
function(expect_refused)
  math(EXPR last "${ARGC} - 1")
  foreach(i RANGE ${last})
    set(args "${ARGV${i}}")
    execute_process(COMMAND ${FOVEA} ${args} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
    if(rc EQUAL 0 OR NOT err MATCHES "error: \\[")
      message(FATAL_ERROR "fovea ${args}: expected an error, got exit ${rc}: ${err}")
    endif()
  endforeach()
endfunction()
execute_process(COMMAND ${FOVEA} --version OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "fovea [0-9]+\\.[0-9]+")
  message(FATAL_ERROR "fovea --version failed: ${rc} ${out}")
endif()
execute_process(COMMAND ${FOVEA} models OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "lenet5 +61706" OR NOT out MATCHES "resnet50 +25557032")
  message(FATAL_ERROR "fovea models failed: ${rc}")
endif()
execute_process(COMMAND ${FOVEA} no-such-command RESULT_VARIABLE rc ERROR_QUIET OUTPUT_QUIET)
if(rc EQUAL 0)
  message(FATAL_ERROR "an unknown subcommand must exit non-zero")
endif()
# bad input: a clear message and a non-zero exit
expect_refused("train;--batch-size;0;--out;${WORK}/x" "train;--lr;-1;--out;${WORK}/x" "train;--model;nope;--out;${WORK}/x"
        "train;--data;mnist:/nonexistent;--out;${WORK}/x" "eval;--checkpoint;/nonexistent.safetensors"
        "predict;--checkpoint;/nonexistent.safetensors;--test-index;0" "train;--cuda-graph;--out;${WORK}/x"
        "train;--cuda-graph;--device;cuda;--optimizer;adam;--out;${WORK}/x")
if(EXISTS ${WORK}/x)
  message(FATAL_ERROR "a refused run must not create its directory")
endif()
# analysis: the article's worked example and receptive-field example
execute_process(COMMAND ${FOVEA} summary ${SRC}/examples/specs/article_example.json OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "Total params: 338,460")
  message(FATAL_ERROR "fovea summary of the article's example: ${rc} ${out}")
endif()
execute_process(COMMAND ${FOVEA} rf ${SRC}/examples/specs/rf_article.json --format json OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "\"rf\": \\[\n? *7\\.0")
  message(FATAL_ERROR "fovea rf of the article's example: ${rc} ${out}")
endif()
execute_process(COMMAND ${FOVEA} summary lenet5 --input 1x28x28 --num-classes 10 --format json OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "\"total_params\": 61706")
  message(FATAL_ERROR "fovea summary lenet5: ${rc} ${out}")
endif()
# --memory: gradients one per parameter (61,706 x 4 bytes), Adam's state two
execute_process(COMMAND ${FOVEA} summary lenet5 --input 1x28x28 --num-classes 10 --memory --batch 32 --optimizer adam
                --format json OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out MATCHES "\"grad_bytes\": 246824,\n  \"optimizer_bytes\": 493648" OR NOT out MATCHES "\"phase\": \"backward\"")
  message(FATAL_ERROR "fovea summary --memory: ${rc} ${out}")
endif()
execute_process(COMMAND ${FOVEA} summary lenet5 --input 1x28x28 --batch 32 RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "add --memory")
  message(FATAL_ERROR "fovea summary --batch without --memory must say so: ${err}")
endif()
execute_process(COMMAND ${FOVEA} summary lenet5 RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "--input")
  message(FATAL_ERROR "fovea summary without --input must ask for it: ${err}")
endif()
# fovea run: a spec-file model, weights saved by fovea itself, a tensor in and out
execute_process(COMMAND ${FOVEA} run ${SRC}/examples/specs/article_example.json --weights ${WORK}/none.safetensors
                --tensor ${WORK}/none.safetensors --output ${WORK}/out.safetensors RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "none.safetensors")
  message(FATAL_ERROR "fovea run with a missing file must name it: ${err}")
endif()
# fovea explain / features on a checkpoint trained for a moment (512 images, one epoch)
set(run ${WORK}/explain_run)
file(REMOVE_RECURSE ${run} ${WORK}/explain ${WORK}/features)
execute_process(COMMAND ${FOVEA} train --model lenet5 --epochs 1 --limit-train 512 --limit-test 64 --quiet --out ${run}
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fovea train for the explain checks: ${rc} ${err}")
endif()
execute_process(COMMAND ${FOVEA} explain --checkpoint ${run}/best.safetensors --per-class 1 --top 2
                --methods vanilla,guided,deconv,gradcam,guided-gradcam,smoothgrad,occlusion --samples 2
                --sanity-check classifier.4,classifier.2 --out ${WORK}/explain OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "CAM layer: features" OR NOT out MATCHES "classifier.2")
  message(FATAL_ERROR "fovea explain: ${rc} ${out} ${err}")
endif()
foreach(f figure.png maps_top1.safetensors maps_top2.safetensors sanity.json)
  if(NOT EXISTS ${WORK}/explain/${f})
    message(FATAL_ERROR "fovea explain did not write ${f}")
  endif()
endforeach()
# maps are named after the test image: fashion-mnist_test_<index>_top<r>_<method>.png
file(GLOB gradcam ${WORK}/explain/fashion-mnist_test_*_top1_gradcam.png)
file(GLOB occlusion ${WORK}/explain/fashion-mnist_test_*_top2_occlusion.png)
list(LENGTH gradcam n_gradcam)
list(LENGTH occlusion n_occlusion)
if(NOT n_gradcam EQUAL 10 OR NOT n_occlusion EQUAL 10)
  message(FATAL_ERROR "fovea explain --per-class 1 --top 2 must write 10 maps of each: ${gradcam} ${occlusion}")
endif()
# every method on a folder of images (the test images of the explain run above, as PNG files),
# two named target classes per image, scored by --evaluate
file(REMOVE_RECURSE ${WORK}/explain_all)
file(GLOB pngs ${WORK}/explain/fashion-mnist_test_*_top1_gradcam.png)
file(MAKE_DIRECTORY ${WORK}/explain_images/sub)
list(GET pngs 0 first_png)
list(GET pngs 1 second_png)
file(COPY ${first_png} DESTINATION ${WORK}/explain_images)
file(COPY ${second_png} DESTINATION ${WORK}/explain_images/sub)
file(WRITE ${WORK}/explain_images/notes.txt "not an image")
file(REMOVE_RECURSE ${WORK}/explain_images_none)
file(WRITE ${WORK}/explain_images_none/notes.txt "a folder without images")
execute_process(COMMAND ${FOVEA} explain --checkpoint ${run}/best.safetensors --images ${WORK}/explain_images
                --targets 3,Bag --methods all --ig-steps 8 --samples 2 --evaluate --eval-steps 10 --batch 1
                --out ${WORK}/explain_all OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "faithfulness over 4 image-target pairs" OR NOT out MATCHES "random \\(chance\\)"
   OR NOT out MATCHES "completeness error" OR NOT out MATCHES "scorecam")
  message(FATAL_ERROR "fovea explain --methods all --evaluate: ${rc} ${out} ${err}")
endif()
file(GLOB maps ${WORK}/explain_all/*_class8_integrated-gradients.safetensors)
list(LENGTH maps n_maps)
if(NOT n_maps EQUAL 2 OR NOT EXISTS ${WORK}/explain_all/faithfulness.json)
  message(FATAL_ERROR "fovea explain must write a safetensors file per map and faithfulness.json: ${maps}")
endif()
list(GET maps 0 one_map)
file(READ ${one_map} header OFFSET 8 LIMIT 2000)
if(NOT header MATCHES "\"method\":\"integrated-gradients\"" OR NOT header MATCHES "\"target_class\":\"Bag\"")
  message(FATAL_ERROR "a map's safetensors metadata must name its method and target: ${header}")
endif()
execute_process(COMMAND ${FOVEA} features --checkpoint ${run}/best.safetensors --test-index 0 --out ${WORK}/features
                OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_VARIABLE err)
file(GLOB tiles ${WORK}/features/fashion-mnist_test_*_features.3.png)
if(NOT rc EQUAL 0 OR NOT tiles OR NOT EXISTS ${WORK}/features/features.safetensors)
  message(FATAL_ERROR "fovea features: ${rc} ${out} ${err}")
endif()
expect_refused("explain;--checkpoint;${run}/best.safetensors;--test-index;0;--methods;lime;--out;${WORK}/bad"
        "explain;--checkpoint;${run}/best.safetensors;--test-index;0;--layer;nope;--out;${WORK}/bad"
        "explain;--checkpoint;${run}/best.safetensors;--test-index;0;--class;Dog;--out;${WORK}/bad"
        "explain;--checkpoint;${run}/best.safetensors;--out;${WORK}/bad"
        "explain;--checkpoint;${run}/best.safetensors;--images;${WORK}/explain_images;--targets;true;--out;${WORK}/bad"
        "explain;--checkpoint;${run}/best.safetensors;--test-index;0;--baseline;black;--out;${WORK}/bad"
        "explain;--checkpoint;${run}/best.safetensors;--test-index;0;--batch;0;--out;${WORK}/bad"
        "explain;--checkpoint;${run}/best.safetensors;--test-index;0;--forward-batch;0;--out;${WORK}/bad"
        "explain;--checkpoint;${run}/best.safetensors;--test-index;0;--methods;layercam;--layercam-layers;nope;--out;${WORK}/bad"
        "explain;--checkpoint;${run}/best.safetensors;--images;${WORK}/explain_images_none;--out;${WORK}/bad"
        "explain;--checkpoint;${run}/best.safetensors;--test-index;99999;--out;${WORK}/bad"
        "features;--checkpoint;${run}/best.safetensors;--test-index;0;--layers;nope;--out;${WORK}/bad")
if(EXISTS ${WORK}/bad)
  message(FATAL_ERROR "a refused explain must not create its output directory")
endif()
# fovea finetune: the three steps on the checkpoint above, three classes, 20 images each
file(REMOVE_RECURSE ${WORK}/finetune)
execute_process(COMMAND ${FOVEA} finetune --from ${run}/best.safetensors --classes 0,1,2 --per-class 20 --head-epochs 1
                --unfreeze features.3.* --finetune-epochs 1 --limit-test 64 --quiet --out ${WORK}/finetune
                OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "after fine-tuning" OR NOT out MATCHES "Frozen params: 60,856")
  message(FATAL_ERROR "fovea finetune: ${rc} ${out} ${err}")
endif()
foreach(f head/last.safetensors finetune/best.safetensors finetune/metrics.json)
  if(NOT EXISTS ${WORK}/finetune/${f})
    message(FATAL_ERROR "fovea finetune did not write ${f}")
  endif()
endforeach()
expect_refused("finetune;--from;${run}/best.safetensors;--unfreeze;nope.*;--out;${WORK}/bad"
        "finetune;--from;/nonexistent.safetensors;--unfreeze;features.*;--out;${WORK}/bad"
        "finetune;--from;${run}/best.safetensors;--unfreeze;features.*;--num-classes;3;--out;${WORK}/bad")
if(EXISTS ${WORK}/bad)
  message(FATAL_ERROR "a refused finetune must not create its output directory")
endif()
