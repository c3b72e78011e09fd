<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
  <context>
    <name>NCGLF2</name>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>accuracy,assessment,validation,confusion matrix,kappa,overall accuracy</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Measures how well a class map agrees with reference labels that were not used for training: overall accuracy (OA), average accuracy over the classes (AA), Cohen's kappa, the accuracy of each class and the confusion matrix, written as an HTML report. The reference is a class raster or points or polygons with a class field; text classes are matched to the map's class names. Given the model that made the map, it also reports the accuracy on the reference pixels whose patch holds none of the model's training pixels: the honest figure, since none of them shares its patch with a pixel the network was fitted on.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Assess accuracy</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>A class map, e.g. written by 'Classify with a model'.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Classification</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Reference labels (points or polygons)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>The ground truth as points or polygons with a class field; use labels that were not used for training. Give either these or a reference raster.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Reference labels (class raster)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>The ground truth as a raster of class ids (0 or nodata = no reference). Give either this or points/polygons.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Class field</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>The attribute that holds the class of each point or polygon (class ids, or class names as in the map).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>A table with the columns id,name,color naming the reference classes.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Class names and colours (CSV)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>The model file (.ncglf2) the map was classified with. Reference pixels next to its training pixels (closer than half the patch size) share part of their patch with them and flatter the accuracy; the report then also gives the accuracy without them, the honest figure. Models imported from the reference checkpoint or written by older versions do not record their training pixels.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Model that made the map</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>An HTML page with OA, AA, kappa, per-class accuracies and the confusion matrix.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Accuracy report</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>The same figures as a JSON file, for scripts and spreadsheets.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Accuracy figures (JSON)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>The confusion matrix as a CSV table (rows: reference, columns: map).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Confusion matrix (CSV)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Overall accuracy</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Average accuracy</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Kappa</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Overall accuracy away from the training pixels</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Average accuracy away from the training pixels</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/assess.py" />
      <source>Kappa away from the training pixels</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>Hyperspectral + LiDAR classification</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>hyperspectral,lidar,land cover,deep learning,fusion</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>optional</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>advanced</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>both are given</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>neither is given</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>Give the {} either as '{}' ({}) or as '{}' ({}): {}.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>{} is a raster; give class rasters as {}, not {}</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>the {} layer is missing or cannot be opened</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>the {} layer '{}' is not a raster file (its data comes from '{}'); save it as a GeoTIFF and use that file</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>the {} layer '{}' is neither a raster nor a vector layer</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>the {} layer '{}' cannot be copied to a file for reading: {}</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/base.py" />
      <source>the {} layer '{}' was copied to {} for reading</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>classify,classification,predict,inference,class map,map</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Classifies every pixel of a hyperspectral image and its LiDAR rasters with a trained NCGLF2 model (or an imported reference model). The rasters must have the band counts the model was trained on. The image is processed tile by tile, so rasters of any size fit in memory. The class map carries the model's class names and colours and is shown with them; pixels without data stay 0 (unclassified). Optionally writes the confidence of each pixel (the highest class probability), the margin between the two most likely classes and the probability of every class.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Classify with a model</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>A model written by 'Train a model' or 'Import the reference checkpoint' (.ncglf2).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Model file</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Classify only the part of the image inside this extent (e.g. the map canvas); leave empty for the whole image. The outputs cover just that part.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Classify only this extent</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>The side of the tiles the image is read and classified in; smaller tiles need less memory.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Tile size (pixels, 0 = automatic)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Patches the network classifies at once; automatic picks a value for the CPU or the GPU and halves it when a GPU runs out of memory.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Batch size (0 = automatic)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>float32 reproduces the network exactly. bfloat16 is faster on CPUs with AVX512-BF16 and on recent GPUs; its labels agree with float32 on nearly every pixel.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Arithmetic precision</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Test-time augmentation: classify every patch in its 4 rotations, each with and without a mirror, and average the 8 class probabilities, so that the map does not depend on which way a patch is turned; costs 8 times the network's work.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Average over rotations and mirrors (8 times slower)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Classify the tiles on Dask distributed instead of in one process: local:N starts N worker processes on this computer; tcp://host:8786 uses the workers of a running Dask scheduler, which must read the same files under the same paths. Needs Dask in the engine's Python (pip install "dask[distributed]"). Leave empty to classify here.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Dask cluster (local:N or tcp://host:port)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>The class map (GeoTIFF, one class id per pixel, 0 = unclassified) with the class names and colours.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>The probability of the chosen class for each pixel (0 to 1; -1 where there is no data). Low values show where the map is uncertain.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Confidence</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>One band per class with its probability for each pixel.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Class probabilities</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>The highest class probability minus the second highest for each pixel (0 to 1; -1 where there is no data). Low values show where the model hesitates between two classes.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Margin</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>The format of every raster written. A Cloud Optimized GeoTIFF holds overviews (the most frequent class for the class map, the mean for the other rasters), so it shows quickly zoomed out and can be read in pieces from a web server or cloud storage; it is copied from the GeoTIFF once classification is done, which takes a little longer and twice the disk space meanwhile.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Output format</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>GeoTIFF</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/classify.py" />
      <source>Cloud Optimized GeoTIFF (with overviews)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <source>import,checkpoint,pretrained,reference,model</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <source>Turns a checkpoint of the authors' published NCGLF2 code (a PyTorch .pth or .pth.tar file) into a model file that 'Classify with a model' uses. The checkpoint holds only the network; its preprocessing (40 whitened PCA components of the hyperspectral bands, standardized LiDAR) is fitted here on the image it was trained on, so give the same hyperspectral image and LiDAR rasters. The number of classes and the patch size must be those of the checkpoint.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <source>Import the reference checkpoint</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <source>The checkpoint saved by the published implementation (e.g. best_model.pth.tar). Only the weights are read; no code in the file is run.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <source>Reference checkpoint</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <source>How many classes the checkpoint was trained on (Trento: 6, Houston 2013: 15, MUUFL: 11).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <source>Number of classes</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <source>The patch size the checkpoint was trained with (the published code uses 11).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Patch size (pixels, odd)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <source>A table with the columns id,name,color; without it the classes are called 'class 1', 'class 2', ...</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/import_reference.py" />
      <source>The model file (.ncglf2) to write.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>install,engine,pytorch,torch,setup,repair,gpu,cuda</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>Installs the NCGLF2 engine: a separate Python environment in the QGIS profile folder with PyTorch and safetensors, which every NCGLF2 algorithm then runs in. QGIS's own Python is left untouched (its numpy and GDAL are shared, never upgraded). With an NVIDIA driver present the matching CUDA build of PyTorch is chosen, else the CPU build. Running it again repairs or upgrades the engine; 'uninstall' removes it. The download is about 200 MB for the CPU build and 2-3 GB for CUDA.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>Engine</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>Install NCGLF2 engine</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>Install (or repair, or upgrade) the engine environment, or remove it.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>Action</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>Install or repair</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>Uninstall</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>Install the smaller CPU build of PyTorch although an NVIDIA driver is present.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>CPU build even with an NVIDIA GPU</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>Engine Python</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>PyTorch version</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Device</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>the engine is being installed already; wait for that run to end</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>the Python that QGIS runs cannot be found, so no environment can be made from it</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/install_engine.py" />
      <source>the NCGLF2 engine is ready: {}</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Where the network runs: auto uses an NVIDIA GPU (CUDA) when torch sees one, else the CPU; cuda fails when no GPU is available.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>The hyperspectral raster, one band per wavelength. Its grid (extent, pixel size, CRS) is the grid of every output.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Hyperspectral image (HSI)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>One or more LiDAR rasters (e.g. a DSM, nDSM or intensity). Rasters on another grid or CRS are resampled onto the HSI grid.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>LiDAR rasters</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>train,training,supervised,neural network,model</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Trains the NCGLF2 fusion network to recognise land-cover classes from a hyperspectral image and LiDAR rasters. The labelled pixels come from a class raster (class ids, 0 = unlabelled) or from points or polygons with a class field; labelled pixels where the HSI or a LiDAR band holds no data are left out, and the log says how many per class. A part of the samples is kept aside to validate the network after every epoch: by default whole polygons or regions, with no training pixel next to them, so that the validation accuracy is honest. The weights of the best epoch are saved in the model file, with the fitted PCA and the class names and colours. The optional report shows the training curves, the validation accuracy and how the validation was drawn, and warns when it says little.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Train a model</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Training labels (points or polygons)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Points or polygons with a class field. Polygons label every pixel whose centre they contain. Give either these or a class raster.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Training labels (class raster)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>A raster of class ids (0 or nodata = unlabelled) on any grid; it is read onto the HSI grid. Give either this or points/polygons.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>The attribute that holds the class of each point or polygon: whole numbers above 0, or text (classes are then numbered in alphabetical order).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Labels used only to validate, instead of a share of the training labels (same class field and class names).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Separate validation labels</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>A table with the columns id,name,color (e.g. 1,Buildings,#e41a1c) that names and colours the classes in the model and in every map classified with it.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>How many times each network sees every training sample; 0 takes the protocol's choice. More epochs take longer; the best epoch on the validation samples is kept (the last one with the ensemble protocol).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Epochs (0 = the protocol's)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>How many labelled pixels of each class are used for training (the published protocol uses 20). 0 uses all labelled pixels that are not kept for validation.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Training samples per class (0 = all)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>The share of each class's labelled pixels kept aside to validate the network after every epoch (ignored when separate validation labels are given).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Validation share of the labels</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>How the validation pixels are kept aside. Spatial: whole polygons, connected regions of a class raster or blocks of points, and no training pixel within a patch's width of them, so no training patch overlaps a validation patch and the validation accuracy is honest. Random: pixels drawn at random inside the same polygons as the training pixels, as in the paper; their patches overlap, so the validation accuracy is optimistic. Ignored when separate validation labels are given.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Validation split</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>spatial (whole polygons, regions or blocks, apart from the training pixels)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>random (the paper's protocol, optimistic)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Robust: every training patch is shown under a random one of its 8 turns and mirrors, targets are smoothed, the weights kept are an exponential moving average, the learning rate follows a cosine after a warm-up, batches are class-balanced and validation is spatial: accuracy that depends far less on the seed. Paper: the published protocol exactly, for comparisons. Ensemble: the paper's training for 3 networks of 50 epochs in one model file, their probabilities averaged; each network holds out its own polygons, regions or blocks (a spatial split drawn with its own seed) and trains on the training samples per class outside them, the last epoch is kept, and the validation accuracy reported is that of the networks on the pixels they held out.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Training protocol</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>robust (symmetries, label smoothing, weight average, cosine schedule, spatial split)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>paper (the published protocol exactly)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>ensemble (3 networks of 50 epochs, each on its own spatial split)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Samples per training step.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Batch size</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Learning rate</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>The step size of the Adam optimiser; it decays by 10 % every fifth of the epochs.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>The side of the square neighbourhood the network sees around each pixel; must be odd.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>How many principal components of the hyperspectral bands the network uses.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>PCA components</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Fixes the choice of samples and the initial weights, so that a run can be repeated.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Random seed</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>The trained model (.ncglf2): the network, the fitted preprocessing and the class names and colours.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>An HTML page with the loss and accuracy curves and the validation accuracy per class (a PNG of the curves and a JSON file are written beside it).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Training report</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Validation overall accuracy</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Validation average accuracy</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/algorithms/train.py" />
      <source>Validation kappa</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/plugin.py" />
      <source>NCGLF2 HSI + LiDAR fusion…</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/plugin.py" />
      <source>Train NCGLF2 on hyperspectral + LiDAR rasters and classify them</source>
      <translation type="unfinished" />
    </message>
  </context>
  <context>
    <name>NCGLF2Dialog</name>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Install engine</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Install (or repair) PyTorch in a separate environment in the QGIS profile; QGIS's Python stays as it is</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>choose one or more rasters</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>[temporary file, deleted when QGIS closes]</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Repair engine</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Import</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Train</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Import and classify</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Train and classify</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Choose the hyperspectral (HSI) raster.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Tick at least one LiDAR raster.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>The HSI raster is also ticked as LiDAR; untick it.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Choose the labels layer (a class raster, or points/polygons).</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Choose the field of {} that holds the classes.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Choose the reference checkpoint file.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Choose the model file to classify with.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>There is no model yet: press {} first, or choose "Load a model file".</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>cancelling...</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>margin</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>confidence</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>classes</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>the class map carries no class names; shown without a palette</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>could not open {}</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Done in {:.1f} s.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Cancelled; no output was written.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>Cancelled.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/dialog.py" />
      <source>{} after {:.1f} s</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>NCGLF2 HSI + LiDAR fusion</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Input rasters</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Hyperspectral (HSI)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>The hyperspectral cube: one band per wavelength.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>LiDAR rasters</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>One or more LiDAR-derived rasters (DSM, intensity, ...) on the HSI grid.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Device</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Where the network runs: a CUDA GPU when one is present, or the CPU.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Automatic (GPU when available)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>CPU</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>CUDA GPU</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Model</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Train a new model</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Load a model file</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Import the reference checkpoint</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Labels</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Ground truth: a class-id raster (0 = unlabelled) or points/polygons with a class field.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Class field</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>The attribute holding the class of each feature (integer ids or class names). Raster labels carry the class in their pixels.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Epochs</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Epochs of each network; "protocol's" takes the chosen protocol's.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>protocol's</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Samples per class</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Training pixels drawn from each class; "all" uses every labelled pixel not kept for validation.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>all</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Random seed</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Advanced training parameters</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Batch size</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Learning rate</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Patch size (pixels)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Side of the square neighbourhood around each pixel; odd.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>PCA components</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Validation fraction</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Share of the labelled pixels kept aside to pick the best epoch.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Validation labels</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Validation split</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Spatial: whole polygons or regions are kept aside, with no training pixel next to them, so the validation accuracy is honest. Random: the paper's random pixels inside the training polygons; optimistic.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>spatial (honest)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>random (the paper's, optimistic)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Optional separate labels for validation, instead of a fraction of the training labels.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Protocol</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Robust: each patch under random turns and mirrors, label smoothing, an average of the weights, a cosine schedule, balanced batches and the spatial split. Paper: the published protocol exactly. Ensemble: 3 networks of 50 epochs, each on its own spatial split of the labels, the last epoch kept.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>robust</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>paper</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>ensemble</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Class names (CSV)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Optional id,name,color table naming and colouring the classes.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>CSV files (*.csv)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Model file</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>A model trained or imported earlier.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>NCGLF2 models (*.ncglf2)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Checkpoint</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>A checkpoint saved by the published NCGLF2 implementation.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>PyTorch checkpoints (*.pth *.pth.tar *.tar *.pt);;All files (*)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Classes</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>How many classes the checkpoint was trained on.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Save the model as</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Where the trained or imported model is written; empty: a temporary file.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Training report</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Optional HTML report with the learning curves and validation accuracy; opened when training ends.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>HTML files (*.html)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Classification</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Save the class map as</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>GeoTIFF of class ids; empty: a temporary file.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>GeoTIFF (*.tif *.tiff)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Area</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Whole raster</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Map canvas extent</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Precision</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>float32 reproduces the network exactly. bfloat16 is faster on CPUs with AVX512-BF16 and on recent GPUs; its labels agree with float32 on nearly every pixel.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>float32 (exact)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>bfloat16 (faster)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Also write the probability of the winning class, beside the class map.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Also write a confidence raster</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Also write the margin beside the class map: the highest class probability minus the second. Low values show where the model hesitates between two classes.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Also write a margin raster</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Test-time augmentation: classify every patch in its 8 rotations and mirrors and average the probabilities. Costs 8 times the network's work.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Average over rotations and mirrors (8 times slower)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Write Cloud Optimized GeoTIFFs: with overviews, quick to show zoomed out and to read from a web server or cloud storage.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Cloud Optimized GeoTIFF (with overviews)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Log</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Messages of the running job appear here.</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Classify</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Cancel</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="resources/ncglf2_dialog.ui" />
      <source>Close</source>
      <translation type="unfinished" />
    </message>
  </context>
  <context>
    <name>NCGLF2Provider</name>
    <message>
      <location filename="ncglf2_qgis/provider.py" />
      <source>NCGLF2 HSI + LiDAR fusion</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/provider.py" />
      <source>NCGLF2 HSI + LiDAR fusion {}</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/provider.py" />
      <source>Engine Python: a Python with torch and safetensors ('automatic': the installed engine)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/provider.py" />
      <source>PyTorch wheel index for the engine installation (empty: download.pytorch.org; 'pip': pip's own)</source>
      <translation type="unfinished" />
    </message>
    <message>
      <location filename="ncglf2_qgis/provider.py" />
      <source>Keep the engine process running between jobs</source>
      <translation type="unfinished" />
    </message>
  </context>
</TS>
