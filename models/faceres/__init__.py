"""human's ``faceres`` (npm @vladmandic/human 3.3.6): a MobileNet v1 trained on faces for age
and gender, re-written in PyTorch from the TF.js graph's weights, used as a feature backbone."""
