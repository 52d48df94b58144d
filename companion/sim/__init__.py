"""The motion simulator: scripted movement in, two IMU streams plus the truth out.

This is the ground truth every later feature is tested against. A *scenario* (built-in or
a small TOML file, see docs/simulator.md) scripts the movement; :func:`simulate` runs the
forward model and returns a :class:`~companion.model.Session` with two sensors,
``shin_<side>`` and ``foot_<side>`` (family ``simulated``), whose chunks are in the
*sensor* frames: ``acc_m_s2`` is specific force (gravity included, +9.81 m/s² on the up
axis at rest), ``gyr_dps`` the segment's angular velocity.

Physics
    The foot rotates about the toes (MTP contact) in a calf raise, so the ankle joint and
    the shin rise with it; about the ankle in a toe raise (the heel stays down); in a
    stretch and a lunge the shin tilts over a planted foot; knee caving is the shin
    tilting medially relative to the foot. Orientations are
    ``scipy.spatial.transform.Rotation``; each accelerometer sees gravity plus the second
    derivative of its mounting point's position along the kinematic chain, each gyroscope
    its segment's angular velocity, both rotated into the sensor's own frame through the
    mounting rotation. Transitions are minimum-jerk (C2).

Frames (both legs): world x forward, y left, z up; segment frames coincide with it at
neutral standing; sensor frame = segment frame unless a mounting fault rotates it.

Truth references (``session.references``, sampled at the sensors' nominal sample times
``k / rate``, i.e. the true state at that session time):

* ``truth_ankle_sagittal_deg``: dorsiflexion +, plantarflexion −, neutral standing 0;
* ``truth_ankle_frontal_deg``: inversion +, eversion −;
* ``truth_shin_inclination_deg``: forward tilt of the shin from vertical, +;
* ``truth_knee_tracking_deg``: shin's sideways tilt out of the foot's vertical plane,
  + knee lateral (over the outside of the foot), − knee caving medially.

Sagittal and frontal come from ``R_shin⁻¹·R_foot`` decomposed as intrinsic y–x–z Cardan
angles (α, β, γ): sagittal = −α, frontal = −m·β (m = +1 left, −1 right).

Truth annotations (``session.annotations``, JSON-ready dicts; every one also carries
``repeat_index``, the scenario repetition it belongs to with ``duration_s``):

* ``truth.still``: ``t_start_s, t_end_s, calibration, sway_deg`` (calibration stance);
* ``truth.pumps``: ``t_start_s, t_end_s, n_pumps, dorsiflexion_deg, plantarflexion_deg``;
* ``truth.rep``: ``exercise`` (``calf_raise``/``tibialis_raise``), ``set_index``,
  ``rep_index``, ``t_start_s`` (leaves the bottom), ``t_rise_end_s`` (reaches the top
  plateau), ``t_hold_end_s`` (leaves the top), ``t_lower_end_s`` (reaches the bottom),
  ``t_end_s`` (next rise starts; equals ``t_lower_end_s`` for a set's last rep),
  ``rise_s, hold_s, lower_s, rest_s`` (the differences), ``rom_deg``,
  ``peak_angle_deg`` (extreme of the truth angle at the top), ``bottom_angle_deg``,
  ``surface``, ``stance``, ``faults`` ⊆ {``rushed_lowering``, ``no_hold``, ``partial``};
* ``truth.set``: ``exercise, set_index, t_start_s, t_end_s, n_reps, surface, stance,
  test`` (heel-rise test), ``prescribed`` (the prescribed ``rise_s, hold_s, lower_s,
  rest_s, rom_deg``);
* ``truth.hold``: ``exercise`` (``stretch``/``lunge_test``), ``knee``
  (``straight``/``bent``), ``t_start_s, t_end_s, hold_angle_deg`` (mean),
  ``hold_angle_min_deg, hold_angle_max_deg, shin_inclination_deg, knee_tracking_deg``
  (means), ``bouncing, knee_in, n_bounces, hold_index``, for stretches
  ``toes_raised_deg``;
* ``truth.squat``: ``rep_index, t_start_s, t_bottom_s, t_end_s, peak_angle_deg``;
* ``truth.walk``: ``t_start_s, t_end_s, n_strides, stride_s, stride_length_m,
  heel_strikes_s``;
* ``truth.curve`` (from :func:`from_angle_curve`): ``exercise, t_start_s, t_end_s,
  neutral_deg, lowpass_hz``.

:class:`SimulatedStream` hands out the same samples incrementally (for live sources and
emulated sensors): ``read(duration_s) -> {sensor_id: ImuChunk}``, ``truth(t_s)``,
``annotations_until(t_s)``, ``gaps``.

``session.extra`` = ``{"scenario", "scenario_spec", "seed", "faults", "side",
"sampling_rate_hz", "simulator_version"}``; ``session.source`` = ``"simulator"``;
``session.plan`` = the scenario's prescription (plan format of docs/plans.md); dropped
samples are ``session.gaps`` with reason ``"dropped"`` (the chunk's ``counter`` skips).
"""

from companion.sim.faults import SensorErrors, SensorFaults
from companion.sim.kinematics import Body
from companion.sim.mocap import heel_events, load_mocap_trial
from companion.sim.scenario import Scenario, list_scenarios
from companion.sim.simulator import from_angle_curve, simulate
from companion.sim.stream import SimulatedStream

__all__ = [
    "Body",
    "Scenario",
    "SensorErrors",
    "SensorFaults",
    "SimulatedStream",
    "from_angle_curve",
    "list_scenarios",
    "heel_events",
    "load_mocap_trial",
    "simulate",
]
