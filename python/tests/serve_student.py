"""`python serve_student.py right|buggy`: the functions of students.py over protocol-v1."""

import sys

import gradverify
import students

if __name__ == "__main__":
    gradverify.serve(**{"right": students.RIGHT, "buggy": students.BUGGY}[sys.argv[1]])
