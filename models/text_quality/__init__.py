"""Content quality of Zhihu Lives (the seed's MTB-DNN study on ZhihuLiveDB)."""
