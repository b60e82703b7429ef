"""blaze_lab.load"""
