hip = "7.2.26015-fake"
cuda = None
