"""H2Rep: videos with the embodiment removed and a gripper cue drawn in its place (H2R-Grounder).

`camera` (pinhole cameras and their files), `cue` (cue geometry and drawing, one path for robots and
hands), `removal` (model-free removal of what a mask covers), `inputs` (the files segmentation, pose and
hand tools write), `prepare` (a video to its H2Rep), `dataset` / `scene` / `raycast` (the robot-video
dataset the project renders itself).
"""
