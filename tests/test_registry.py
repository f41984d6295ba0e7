import pytest

from actionlab.registry import BuildError, Registry


@pytest.fixture
def reg():
    reg = Registry('thing')

    @reg.register_module()
    class ResNet:
        def __init__(self, depth, num_stages=4, out_indices=(3,)):
            self.depth, self.num_stages, self.out_indices = depth, num_stages, tuple(out_indices)

    @reg.register_module(name='Renamed')
    class Other:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    return reg


def test_build_passes_arguments_and_defaults(reg):
    obj = reg.build(dict(type='ResNet', depth=50), num_stages=3)
    assert (obj.depth, obj.num_stages) == (50, 3)
    # config values win over default_args; lists from JSON/YAML are accepted
    obj = reg.build(dict(type='ResNet', depth=18, num_stages=2, out_indices=[0, 3]), num_stages=3)
    assert (obj.num_stages, obj.out_indices) == (2, (0, 3))


def test_build_does_not_modify_cfg(reg):
    cfg = dict(type='ResNet', depth=50)
    reg.build(cfg)
    assert cfg == dict(type='ResNet', depth=50)


def test_register_under_other_name_and_class_type(reg):
    assert 'Renamed' in reg and 'Other' not in reg
    assert reg.build(dict(type='Renamed', a=1)).kwargs == {'a': 1}
    assert reg.build(dict(type=reg.get('ResNet'), depth=34)).depth == 34
    assert reg.keys() == ['Renamed', 'ResNet'] and len(reg) == 2


def test_unknown_type_lists_close_names(reg):
    with pytest.raises(BuildError, match=r"'ResNt' is not a registered thing type\. Did you mean: ResNet"):
        reg.build(dict(type='ResNt', depth=50))
    with pytest.raises(BuildError, match='Did you mean: ResNet'):
        reg.get('resnet')
    with pytest.raises(BuildError, match=r"^'Zzz' is not a registered thing type\.$"):
        reg.get('Zzz')


def test_bad_argument_names_type_and_argument(reg):
    with pytest.raises(BuildError,
                       match=r"ResNet got an unexpected argument 'dept'\. Did you mean 'depth'\?"):
        reg.build(dict(type='ResNet', dept=50))
    with pytest.raises(BuildError, match=r'ResNet is missing required argument\(s\): depth'):
        reg.build(dict(type='ResNet'))


def test_bad_cfg_shapes(reg):
    with pytest.raises(BuildError, match='no "type" key'):
        reg.build(dict(depth=50))
    with pytest.raises(BuildError, match='must be a dict'):
        reg.build(['ResNet'])
    with pytest.raises(BuildError, match='must be a str or a class'):
        reg.build(dict(type=3))


def test_duplicate_registration(reg):
    with pytest.raises(KeyError, match='already registered'):
        reg.register_module(name='ResNet', module=object)
    reg.register_module(name='ResNet', module=dict, force=True)
    assert reg.get('ResNet') is dict


def test_constructor_errors_name_the_type(reg):
    @reg.register_module()
    class Fails:
        def __init__(self, x):
            raise ValueError(f'bad x {x}')

    with pytest.raises(ValueError, match='bad x 1') as info:
        reg.build(dict(type='Fails', x=1))
    notes = getattr(info.value, '__notes__', [])
    if hasattr(info.value, 'add_note'):
        assert notes == ["(while building thing 'Fails')"]


def test_bad_argument_passed_on_through_kwargs(reg):
    base = reg.get('ResNet')

    @reg.register_module()
    class ResNetTSM(base):
        def __init__(self, depth, num_segments=8, **kwargs):
            super().__init__(depth, **kwargs)

    with pytest.raises(BuildError, match=r"ResNetTSM got an unexpected argument 'num_stage'\. "
                                         r"Did you mean 'num_stages'\? Valid arguments: depth, "
                                         r"num_segments, num_stages, out_indices$"):
        reg.build(dict(type='ResNetTSM', depth=50, num_stage=3))
    assert reg.build(dict(type='ResNetTSM', depth=50, num_stages=3)).num_stages == 3
