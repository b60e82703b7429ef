"""blaze_lab.router"""
